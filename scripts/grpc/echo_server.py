#!/usr/bin/env python3
"""A gRPC server for Serin's tests (Python grpcio, no generated stubs): /serin.test.Echo/Say answers
"<version>: <request>" with status OK, or, with --fail CODE, that status, a message and trailing metadata; with
--delay S, after S seconds.
Binds 127.0.0.1 on --port (a free one when 0, the default), prints "PORT <n>" and serves until killed."""
import argparse
import os
import signal
import time
from concurrent import futures

import grpc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", default="v1")
    parser.add_argument("--port", type=int, default=0, help="the port to listen on, on 127.0.0.1 (default: a free one)")
    parser.add_argument("--fail", default="", help="a grpc.StatusCode name (UNAVAILABLE...) to answer every call with")
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait before answering a call")
    parser.add_argument("--die-mid-answer", action="store_true",
                        help="send a call's initial metadata, then exit at once: a server that crashes mid-answer")
    args = parser.parse_args()

    def say(request, context):
        if args.delay > 0:
            time.sleep(args.delay)
        if args.die_mid_answer:
            context.send_initial_metadata((("serin-version", args.version),))
            time.sleep(0.5)
            os._exit(1)
        if args.fail:
            # No initial metadata: the answer is trailers-only, the kind gRPC retry conditions apply to.
            context.set_trailing_metadata((("serin-version", args.version),))
            context.abort(grpc.StatusCode[args.fail], f"{args.version} says {args.fail}")
        context.send_initial_metadata((("serin-version", args.version),))
        context.set_trailing_metadata((("serin-version", args.version),))
        return args.version.encode() + b": " + request

    handler = grpc.method_handlers_generic_handler(
        "serin.test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"PORT {port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
