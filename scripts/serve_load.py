#!/usr/bin/env python3
"""A bounded load check of a running forma-serve, over loopback: C concurrent clients each send R
streaming /v1/generate requests; prints requests/s, generated tokens/s and time to first token
(the first SSE event) for each C. Standard library only.

  scripts/serve_load.py --port 8080 [--clients 4,16] [--requests 8] [--max-tokens 64]

forma-serve runs one generation at a time (FIFO), so a client's time to first token includes its
wait in the queue: it grows with the number of clients while requests/s stays that of one model.
"""
import argparse
import http.client
import json
import statistics
import threading
import time


def one_request(port, max_tokens, seed):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": max_tokens, "temperature": 0.8,
                       "seed": seed, "stream": True})
    started = time.monotonic()
    connection.request("POST", "/v1/generate", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError("status %d: %r" % (response.status, response.read()))
    first = None
    tokens = 0
    buffered = b""
    while True:
        chunk = response.read1(65536)
        if not chunk:
            break
        if first is None:
            first = time.monotonic() - started
        buffered += chunk
        *events, buffered = buffered.split(b"\n\n")
        for event in events:
            data = json.loads(event[len(b"data: "):])
            if data.get("done"):
                tokens = data["completion_tokens"]
    connection.close()
    return first, time.monotonic() - started, tokens


def run(port, clients, requests, max_tokens):
    results, errors = [], []
    lock = threading.Lock()

    def client(index):
        for r in range(requests):
            try:
                result = one_request(port, max_tokens, 1 + index * requests + r)
                with lock:
                    results.append(result)
            except Exception as error:  # noqa: BLE001 — counted and printed
                with lock:
                    errors.append(repr(error))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    ttft = sorted(r[0] for r in results)
    tokens = sum(r[2] for r in results)
    print("%2d clients: %3d requests in %.2f s = %.1f requests/s, %.0f generated tokens/s; "
          "time to first token median %.0f ms, p90 %.0f ms, max %.0f ms; %d errors"
          % (clients, len(results), elapsed, len(results) / elapsed, tokens / elapsed,
             1000 * statistics.median(ttft), 1000 * ttft[int(0.9 * (len(ttft) - 1))], 1000 * ttft[-1],
             len(errors)))
    for error in errors[:5]:
        print("  error:", error)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", default="4,16")
    parser.add_argument("--requests", type=int, default=8, help="per client")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    for clients in (int(c) for c in args.clients.split(",")):
        run(args.port, clients, args.requests, args.max_tokens)


if __name__ == "__main__":
    main()
