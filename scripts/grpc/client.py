#!/usr/bin/env python3
"""A gRPC client for Serin's tests (Python grpcio, no generated stubs), calling /serin.test.Echo/Say.

call: one call; prints JSON {code, details, body, initial, trailing}. With --cancel-after S the client cancels it
      after S seconds (RST_STREAM CANCEL, no deadline sent), as a user who gives up does.
load: --rate calls a second until SIGTERM or --seconds pass; prints JSON {"codes": {name: count}} at the end."""
import argparse
import json
import signal
import threading
import time

import grpc

METHOD = "/serin.test.Echo/Say"


def channel(target, authority, proxy=""):
    # The environment's proxy is never used by accident; --proxy names one, which grpc reaches with CONNECT.
    options = [("grpc.http_proxy", proxy)] if proxy else [("grpc.enable_http_proxy", 0)]
    if authority:
        options.append(("grpc.default_authority", authority))
    return grpc.insecure_channel(target, options=options)


def call(stub, message, timeout):
    try:
        body, info = stub.with_call(message.encode(), timeout=timeout)
        return {
            "code": "OK", "details": "", "body": body.decode(),
            "initial": dict(info.initial_metadata()), "trailing": dict(info.trailing_metadata()),
        }
    except grpc.RpcError as error:
        return {
            "code": error.code().name, "details": error.details() or "", "body": "",
            "initial": dict(error.initial_metadata() or ()), "trailing": dict(error.trailing_metadata() or ()),
        }


def cancelled_call(stub, message, after):
    future = stub.future(message.encode())
    time.sleep(after)
    cancelled = future.cancel()
    return {"code": "CANCELLED" if cancelled else future.code().name, "details": "", "body": "", "initial": {}, "trailing": {}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["call", "load"])
    parser.add_argument("--target", required=True)
    parser.add_argument("--authority", default="")
    parser.add_argument("--proxy", default="", help="an HTTP proxy (http://HOST:PORT) that grpc tunnels to --target through")
    parser.add_argument("--message", default="hello")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--cancel-after", type=float, default=0, help="call: cancel the call after this many seconds")
    args = parser.parse_args()
    stub = channel(args.target, args.authority, args.proxy).unary_unary(METHOD)
    if args.mode == "call":
        if args.cancel_after > 0:
            print(json.dumps(cancelled_call(stub, args.message, args.cancel_after)), flush=True)
            return
        print(json.dumps(call(stub, args.message, args.timeout)), flush=True)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    codes = {}
    deadline = time.monotonic() + args.seconds
    next_call = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        result = call(stub, args.message, args.timeout)
        codes[result["code"]] = codes.get(result["code"], 0) + 1
        next_call += 1 / args.rate
        stop.wait(max(0, next_call - time.monotonic()))
    print(json.dumps({"codes": codes}), flush=True)


if __name__ == "__main__":
    main()
