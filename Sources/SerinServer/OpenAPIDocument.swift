/// The admin API's OpenAPI 3 document, served at `/openapi.json`.
///
/// `docs/openapi.json` holds the same bytes and a test compares them, so the document in the repository is
/// the one every binary serves; change both together.
enum OpenAPIDocument {
    static let json = ##"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "Serin admin API",
    "version": "1",
    "description": "Watch and steer canary rollouts on Serin's admin listener (127.0.0.1:9900 by default). With an admin token (--admin-token-file or SERIN_ADMIN_TOKEN, required when the listener is not on loopback) every POST needs `Authorization: Bearer TOKEN`; with --admin-read-requires-token the data reads need it too. Errors are JSON `{\"error\": \"...\"}`."
  },
  "servers": [
    {
      "url": "http://127.0.0.1:9900"
    }
  ],
  "tags": [
    {
      "name": "canaries",
      "description": "Rollouts: status, history, metric series, live events, steering"
    },
    {
      "name": "gateway",
      "description": "The gateway's routing table, configuration and counters"
    },
    {
      "name": "probes",
      "description": "Liveness and readiness"
    },
    {
      "name": "documents",
      "description": "The dashboard page and this document"
    }
  ],
  "paths": {
    "/": {
      "get": {
        "tags": [
          "documents"
        ],
        "operationId": "dashboard",
        "summary": "The dashboard: one self-contained HTML page that follows /events",
        "responses": {
          "200": {
            "description": "The page",
            "content": {
              "text/html": {
                "schema": {
                  "type": "string"
                }
              }
            }
          }
        }
      }
    },
    "/openapi.json": {
      "get": {
        "tags": [
          "documents"
        ],
        "operationId": "openAPIDocument",
        "summary": "This document",
        "responses": {
          "200": {
            "description": "OpenAPI 3 document",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    },
    "/healthz": {
      "get": {
        "tags": [
          "probes"
        ],
        "operationId": "liveness",
        "summary": "Liveness: the admin listener answers",
        "responses": {
          "200": {
            "description": "Alive",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          }
        }
      }
    },
    "/readyz": {
      "get": {
        "tags": [
          "probes"
        ],
        "operationId": "readiness",
        "summary": "Readiness: the gateway listens and the controller has loaded its state",
        "responses": {
          "200": {
            "description": "Ready",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Readiness"
                }
              }
            }
          },
          "503": {
            "description": "Starting or shutting down",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Readiness"
                }
              }
            }
          }
        }
      }
    },
    "/config": {
      "get": {
        "tags": [
          "gateway"
        ],
        "operationId": "routingTable",
        "summary": "The live routing table: listeners, virtual hosts, routes, weighted destinations",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "Routing table",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/RouteTable"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "tags": [
          "gateway"
        ],
        "operationId": "prometheusMetrics",
        "summary": "Istio-named gateway counters and the controller's metrics, Prometheus text format",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "Prometheus exposition",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          }
        }
      }
    },
    "/apply": {
      "post": {
        "tags": [
          "gateway"
        ],
        "operationId": "apply",
        "summary": "Create or replace resources, kubectl-style; nothing changes unless the result validates as a whole",
        "security": [
          {
            "adminToken": []
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ApplyRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Applied",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ApplyReport"
                }
              }
            }
          },
          "400": {
            "description": "The body is not an ApplyRequest",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "422": {
            "description": "Invalid manifests: nothing applied",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ApplyReport"
                }
              }
            }
          }
        }
      }
    },
    "/canaries": {
      "get": {
        "tags": [
          "canaries"
        ],
        "operationId": "listCanaries",
        "summary": "Every Canary's status, by name",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "Statuses",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/CanaryStatus"
                  }
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          }
        }
      }
    },
    "/events": {
      "get": {
        "tags": [
          "canaries"
        ],
        "operationId": "eventStream",
        "summary": "Server-sent events: every rollout event, weight and phase change and measurement of every Canary",
        "description": "Each message has an `id` (increasing), an `event` name and one JSON `data` line: `rollout` {canary, namespace, time, severity, message}; `phase` {canary, namespace, phase}; `weights` {canary, namespace, stableWeight, canaryWeight}; `measurement` {canary, namespace, measurement: Measurement}. A comment line comes every 15 seconds when nothing happens. A client that falls too far behind is disconnected.",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "The stream, until the client leaves",
            "content": {
              "text/event-stream": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          }
        }
      }
    },
    "/canaries/{name}": {
      "get": {
        "tags": [
          "canaries"
        ],
        "operationId": "getCanary",
        "summary": "One Canary's status: phase, weights, step n/m, failed checks, last measurements",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "Status",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/CanaryStatus"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      },
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        }
      ]
    },
    "/canaries/{name}/history": {
      "get": {
        "tags": [
          "canaries"
        ],
        "operationId": "getHistory",
        "summary": "Events and measurements, oldest first (the newest `limit` of each when given)",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "History",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/CanaryHistory"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      },
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        },
        {
          "$ref": "#/components/parameters/Limit"
        }
      ]
    },
    "/canaries/{name}/events": {
      "get": {
        "tags": [
          "canaries"
        ],
        "operationId": "getEvents",
        "summary": "The rollout's events, oldest first (the newest `limit` when given)",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "Events",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Event"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      },
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        },
        {
          "$ref": "#/components/parameters/Limit"
        }
      ]
    },
    "/canaries/{name}/metrics": {
      "get": {
        "tags": [
          "canaries"
        ],
        "operationId": "getMetricSeries",
        "summary": "Time series for charts: each metric's canary and stable values with its threshold and a verdict per check, and the canary weight over time",
        "security": [
          {},
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "description": "Series",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/CanaryMetrics"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      },
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        }
      ]
    },
    "/canaries/{name}/promote": {
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        }
      ],
      "post": {
        "tags": [
          "canaries"
        ],
        "operationId": "promote",
        "summary": "Skip the remaining steps: all traffic to the canary",
        "security": [
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "$ref": "#/components/responses/Accepted"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Refused"
          }
        }
      }
    },
    "/canaries/{name}/abort": {
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        }
      ],
      "post": {
        "tags": [
          "canaries"
        ],
        "operationId": "abort",
        "summary": "Roll back now: all traffic to the stable version",
        "security": [
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "$ref": "#/components/responses/Accepted"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Refused"
          }
        }
      }
    },
    "/canaries/{name}/pause": {
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        }
      ],
      "post": {
        "tags": [
          "canaries"
        ],
        "operationId": "pause",
        "summary": "Hold the rollout at its current weights until resumed",
        "security": [
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "$ref": "#/components/responses/Accepted"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Refused"
          }
        }
      }
    },
    "/canaries/{name}/resume": {
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        }
      ],
      "post": {
        "tags": [
          "canaries"
        ],
        "operationId": "resume",
        "summary": "Continue a paused rollout",
        "security": [
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "$ref": "#/components/responses/Accepted"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Refused"
          }
        }
      }
    },
    "/canaries/{name}/rollout": {
      "parameters": [
        {
          "$ref": "#/components/parameters/CanaryName"
        }
      ],
      "post": {
        "tags": [
          "canaries"
        ],
        "operationId": "rollout",
        "summary": "Start the rollout again from the first step",
        "security": [
          {
            "adminToken": []
          }
        ],
        "responses": {
          "200": {
            "$ref": "#/components/responses/Accepted"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Refused"
          }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin token; required for POSTs when one is configured"
      }
    },
    "parameters": {
      "CanaryName": {
        "name": "name",
        "in": "path",
        "required": true,
        "description": "The Canary's name, or namespace/name",
        "schema": {
          "type": "string"
        }
      },
      "Limit": {
        "name": "limit",
        "in": "query",
        "required": false,
        "description": "Only the newest N",
        "schema": {
          "type": "integer",
          "minimum": 1,
          "maximum": 1000000
        }
      }
    },
    "responses": {
      "Unauthorized": {
        "description": "An admin token is configured and the request did not carry it (WWW-Authenticate: Bearer)",
        "headers": {
          "WWW-Authenticate": {
            "schema": {
              "type": "string"
            }
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "NotFound": {
        "description": "No such Canary",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "BadRequest": {
        "description": "A parameter is out of range; the error says which and what was expected",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Accepted": {
        "description": "Accepted: the new status",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/CanaryStatus"
            }
          }
        }
      },
      "Refused": {
        "description": "The phase does not allow it; the reason says why",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": [
          "error"
        ],
        "properties": {
          "error": {
            "type": "string",
            "description": "What went wrong, where, and what was expected"
          }
        }
      },
      "Readiness": {
        "type": "object",
        "required": [
          "ready"
        ],
        "properties": {
          "ready": {
            "type": "boolean"
          },
          "reason": {
            "type": "string"
          }
        }
      },
      "Phase": {
        "type": "string",
        "enum": [
          "Initialized",
          "Progressing",
          "Promoting",
          "Succeeded",
          "RollingBack",
          "Failed",
          "Paused"
        ]
      },
      "CanaryStatus": {
        "type": "object",
        "required": [
          "name",
          "namespace",
          "phase",
          "stage",
          "canaryWeight",
          "stableWeight",
          "stable",
          "canary",
          "steps",
          "failedChecks",
          "threshold",
          "iteration",
          "lastMeasurements",
          "releases"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "namespace": {
            "type": "string"
          },
          "phase": {
            "$ref": "#/components/schemas/Phase"
          },
          "stage": {
            "type": "string"
          },
          "canaryWeight": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100
          },
          "stableWeight": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100
          },
          "stable": {
            "type": "string",
            "description": "host:port of what serves the traffic the canary does not take: the stable, or the canary once promoted"
          },
          "canary": {
            "type": "string",
            "description": "host:port of the canary of the release in flight, or of the last release"
          },
          "step": {
            "type": "integer",
            "description": "1-based step of the weight schedule; absent before the first step"
          },
          "steps": {
            "type": "integer"
          },
          "failedChecks": {
            "type": "integer"
          },
          "threshold": {
            "type": "integer",
            "description": "failed checks that roll back"
          },
          "iteration": {
            "type": "integer"
          },
          "message": {
            "type": "string"
          },
          "lastTransition": {
            "type": "number",
            "description": "seconds since the Unix epoch of the last phase change"
          },
          "lastMeasurements": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/RecordedMeasurement"
            }
          },
          "releases": {
            "type": "array",
            "description": "the Canary's train, oldest first (the newest 20 releases)",
            "items": {
              "$ref": "#/components/schemas/Release"
            }
          }
        }
      },
      "RecordedMeasurement": {
        "type": "object",
        "required": [
          "metric",
          "verdict",
          "canaryRequests",
          "stableRequests",
          "canaryWeight"
        ],
        "properties": {
          "metric": {
            "type": "string"
          },
          "canaryValue": {
            "type": "number"
          },
          "stableValue": {
            "type": "number"
          },
          "canaryRequests": {
            "type": "integer"
          },
          "stableRequests": {
            "type": "integer"
          },
          "canaryWeight": {
            "type": "integer"
          },
          "verdict": {
            "type": "string",
            "description": "pass, fail: REASON or inconclusive: REASON"
          },
          "canary": {
            "type": "object"
          },
          "instant": {
            "type": "object"
          }
        }
      },
      "Event": {
        "type": "object",
        "required": [
          "time",
          "severity",
          "message"
        ],
        "properties": {
          "time": {
            "type": "number",
            "description": "seconds since the Unix epoch"
          },
          "severity": {
            "type": "string",
            "enum": [
              "Normal",
              "Warning"
            ]
          },
          "message": {
            "type": "string"
          }
        }
      },
      "Measurement": {
        "type": "object",
        "required": [
          "time",
          "metric",
          "canaryRequests",
          "stableRequests",
          "canaryWeight",
          "verdict"
        ],
        "properties": {
          "time": {
            "type": "number",
            "description": "seconds since the Unix epoch"
          },
          "metric": {
            "type": "string"
          },
          "canary": {
            "type": "number",
            "description": "the canary's value; absent without data"
          },
          "stable": {
            "type": "number",
            "description": "the stable side's value, the baseline"
          },
          "canaryRequests": {
            "type": "integer"
          },
          "stableRequests": {
            "type": "integer"
          },
          "canaryWeight": {
            "type": "integer"
          },
          "verdict": {
            "type": "string",
            "description": "pass, fail: REASON or inconclusive: REASON"
          }
        }
      },
      "Release": {
        "type": "object",
        "required": [
          "stable",
          "canary",
          "outcome",
          "started"
        ],
        "properties": {
          "stable": {
            "type": "string",
            "description": "host:port of what served when the release began"
          },
          "canary": {
            "type": "string",
            "description": "host:port of the version the release moves traffic to"
          },
          "outcome": {
            "type": "string",
            "enum": [
              "Progressing",
              "Promoted",
              "RolledBack",
              "Superseded"
            ]
          },
          "reason": {
            "type": "string",
            "description": "why it rolled back or was superseded"
          },
          "started": {
            "type": "number",
            "description": "seconds since the Unix epoch"
          },
          "ended": {
            "type": "number",
            "description": "seconds since the Unix epoch"
          }
        }
      },
      "CanaryHistory": {
        "type": "object",
        "required": [
          "releases",
          "events",
          "measurements"
        ],
        "properties": {
          "releases": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Release"
            }
          },
          "events": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Event"
            }
          },
          "measurements": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Measurement"
            }
          }
        }
      },
      "MetricSeries": {
        "type": "object",
        "required": [
          "name",
          "unit",
          "points"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "unit": {
            "type": "string",
            "enum": [
              "percent",
              "ms",
              "value"
            ]
          },
          "thresholdMin": {
            "type": "number",
            "description": "the canary's value must not fall below"
          },
          "thresholdMax": {
            "type": "number",
            "description": "the canary's value must not rise above"
          },
          "points": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Measurement"
            }
          }
        }
      },
      "WeightPoint": {
        "type": "object",
        "required": [
          "time",
          "canaryWeight"
        ],
        "properties": {
          "time": {
            "type": "number"
          },
          "canaryWeight": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100
          }
        }
      },
      "CanaryMetrics": {
        "type": "object",
        "required": [
          "name",
          "namespace",
          "metrics",
          "weights"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "namespace": {
            "type": "string"
          },
          "metrics": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/MetricSeries"
            }
          },
          "weights": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/WeightPoint"
            }
          }
        }
      },
      "ManifestSource": {
        "type": "object",
        "required": [
          "path",
          "text"
        ],
        "properties": {
          "path": {
            "type": "string",
            "description": "where the client read it, for diagnostics"
          },
          "text": {
            "type": "string",
            "description": "YAML, one or more documents"
          }
        }
      },
      "ApplyRequest": {
        "type": "object",
        "required": [
          "sources"
        ],
        "properties": {
          "sources": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ManifestSource"
            }
          }
        }
      },
      "ApplyReport": {
        "type": "object",
        "required": [
          "applied",
          "results",
          "diagnostics"
        ],
        "properties": {
          "applied": {
            "type": "boolean"
          },
          "results": {
            "type": "array",
            "items": {
              "type": "string"
            },
            "description": "kubectl-style: virtualservice/web-virtualservice configured"
          },
          "diagnostics": {
            "type": "array",
            "items": {
              "type": "string"
            },
            "description": "path:line:column: severity: message"
          }
        }
      },
      "RouteTable": {
        "type": "object",
        "required": [
          "generation",
          "listeners"
        ],
        "properties": {
          "generation": {
            "type": "integer"
          },
          "listeners": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "port",
                "gateways",
                "virtualHosts"
              ],
              "properties": {
                "port": {
                  "type": "integer"
                },
                "boundPort": {
                  "type": "integer"
                },
                "gateways": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  }
                },
                "virtualHosts": {
                  "type": "array",
                  "items": {
                    "type": "object"
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

"""##
}
