#!/usr/bin/env python3
"""forma-serve over HTTP: each check starts its own forma-serve on a free loopback port (--port 0)
with the shipped stories260K model, talks to it with the standard library only (http.client,
socket, json, threading) and exits non-zero on the first failed assertion.

  serve_test.py --serve BIN --run BIN --model-dir DIR CHECK

Timeouts are generous (a loaded 2-core machine); the only timing assertions are coarse ones.
"""
import argparse
import html
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True

ARGS = None
TIMEOUT = 120  # seconds for any one HTTP exchange


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Server:
    """forma-serve running on a free port; stderr goes to a file read back on failure."""

    def __init__(self, *extra, model=None):
        self.log_path = os.path.join(ARGS.work_dir, "forma-serve-%d.log" % os.getpid())
        self.log = open(self.log_path, "w+b")
        if model is None:
            model = [os.path.join(ARGS.model_dir, "stories260K.bin"), "-z", os.path.join(ARGS.model_dir, "tok512.bin")]
        command = [ARGS.serve, *model, "--port", "0", *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log)
        line = self._read_line(60)
        match = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)\n", line)
        check(match is not None, "expected 'listening on http://127.0.0.1:PORT', got %r" % line)
        self.port = int(match.group(1))
        check(0 < self.port < 65536, "port %d" % self.port)

    def _read_line(self, seconds):
        result = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline().decode()))
        reader.daemon = True
        reader.start()
        reader.join(seconds)
        check(result, "forma-serve printed nothing within %d s" % seconds)
        return result[0]

    def connection(self, timeout=TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def stderr(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        os.unlink(self.log_path)


def request(server, method, path, body=None, raw=None, headers=None):
    """(status, headers, body bytes) of one exchange on a fresh connection."""
    connection = server.connection()
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        connection.request(method, path, body=data, headers=headers or {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def post_json(server, path, body):
    status, headers, data = request(server, "POST", path, body)
    check(status == 200, "POST %s %r: status %d, %r" % (path, body, status, data[:500]))
    check(dict(headers).get("Content-Type", "").startswith("application/json"), "content type %r" % headers)
    return json.loads(data)


def sse_events(data):
    """The 'data:' payloads of an event stream, strictly framed: events end with a blank line and
    carry exactly one 'data: ' line (forma-serve sends no other fields)."""
    text = data.decode("utf-8")
    check(text.endswith("\n\n"), "the stream does not end with a blank line: %r" % text[-100:])
    events = text[:-2].split("\n\n")
    payloads = []
    for event in events:
        check(event.startswith("data: ") and "\n" not in event, "not a single 'data: ' line: %r" % event)
        payloads.append(event[len("data: "):])
    return payloads


def stream(server, path, body):
    status, headers, data = request(server, "POST", path, body)
    check(status == 200, "POST %s: status %d, %r" % (path, status, data[:500]))
    check(dict(headers).get("Content-Type", "").startswith("text/event-stream"), "content type %r" % headers)
    return sse_events(data)


def generate_events(server, body, stop_reasons=("length", "eos")):
    """A streamed /v1/generate: (text, final event), every framing rule checked."""
    payloads = stream(server, "/v1/generate", dict(body, stream=True))
    events = [json.loads(p) for p in payloads]
    check(events, "no events")
    final = events[-1]
    check(final.get("done") is True, "the last event is not the final one: %r" % final)
    tokens = events[:-1]
    for event in tokens:
        check(set(event) == {"token", "text"}, "a token event has fields %r" % sorted(event))
        check(isinstance(event["token"], int) and event["token"] >= 0, "token %r" % event["token"])
        check(isinstance(event["text"], str), "text %r" % event["text"])
        check("done" not in event, "a second final event")
    check(final["stop_reason"] in stop_reasons, "stop_reason %r" % final["stop_reason"])
    check(isinstance(final["prompt_tokens"], int) and final["prompt_tokens"] > 0, "prompt_tokens %r" % final)
    check(final["completion_tokens"] == len(tokens),
          "completion_tokens %r but %d token events" % (final["completion_tokens"], len(tokens)))
    text = "".join(e["text"] for e in tokens) + final["text"]
    return text, final


def run_forma_run(prompt, steps, temperature=0.0, seed=42, model=None):
    if model is None:
        model = [os.path.join(ARGS.model_dir, "stories260K.bin"), "-z", os.path.join(ARGS.model_dir, "tok512.bin")]
    command = [ARGS.run, *model, "-t", str(temperature), "-s", str(seed), "-n", str(steps), "-i", prompt]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    check(done.returncode == 0, "forma-run failed: %r" % done.stderr)
    return done.stdout.decode()


# ---------------------------------------------------------------------------------------------
# The checks.

def check_haiku(server):
    answer = post_json(server, "/v1/generate", {"prompt": "Write a haiku about", "max_tokens": 20, "temperature": 0.7})
    check(isinstance(answer["text"], str) and answer["text"].strip(), "no generated text: %r" % answer)
    check(0 < answer["completion_tokens"] <= 20, "completion_tokens %r" % answer["completion_tokens"])
    check(answer["stop_reason"] in ("length", "eos"), "stop_reason %r" % answer["stop_reason"])
    # The same request streamed tells the same text with the same seed.
    body = {"prompt": "Write a haiku about", "max_tokens": 20, "temperature": 0.7, "seed": 7}
    plain = post_json(server, "/v1/generate", body)
    text, final = generate_events(server, body)
    check(text.strip(), "the stream has no text")
    check(text == plain["text"], "streamed %r, plain %r" % (text, plain["text"]))
    check(final["completion_tokens"] == plain["completion_tokens"], "counts differ")


def check_sse(server):
    for body in ({"prompt": "Once upon a time", "max_tokens": 30, "temperature": 0.0},
                 {"prompt": "", "max_tokens": 60, "temperature": 1.0, "top_p": 0.9, "seed": 1234},
                 {"prompt": "Lily", "max_tokens": 1, "temperature": 0.5, "seed": 3}):
        text, final = generate_events(server, body)
        if final["stop_reason"] == "length":
            check(final["completion_tokens"] == body["max_tokens"], "length stop after %r tokens" % final)
        text.encode("utf-8")  # every event's text was valid JSON, so valid UTF-8
    # A stop at the end token: greedy from an empty prompt ends its story before 512 positions.
    _, final = generate_events(server, {"prompt": "", "max_tokens": 511, "temperature": 0.0})
    check(final["stop_reason"] == "eos", "stop_reason %r (the greedy story ends with BOS)" % final)
    check(final["completion_tokens"] < 511, "counts %r" % final)


def check_greedy(server):
    # Greedy over HTTP equals forma-run's text for the same prompt and seed (forma-run prints the
    # prompt first, then the generated text, then a newline; -n counts the prompt's positions).
    for prompt, max_tokens in (("Once upon a time", 60), ("Lily and Tim", 100), ("The cat", 200)):
        answer = post_json(server, "/v1/generate",
                           {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "seed": 42})
        steps = answer["prompt_tokens"] - 1 + answer["completion_tokens"]
        expected = run_forma_run(prompt, steps)
        if answer["stop_reason"] == "length":
            check(answer["completion_tokens"] == max_tokens, "length after %r" % answer)
            check(expected == prompt + answer["text"] + "\n",
                  "forma-run -n %d: %r\nforma-serve: %r" % (steps, expected, prompt + answer["text"]))
        else:
            check(expected.startswith(prompt + answer["text"]), "forma-run %r, forma-serve %r" % (expected, answer))
    # The OpenAI completion says the same.
    openai = post_json(server, "/v1/completions",
                       {"model": "m", "prompt": "Once upon a time", "max_tokens": 60, "temperature": 0})
    check("Once upon a time" + openai["choices"][0]["text"] + "\n" == run_forma_run("Once upon a time", 64),
          "completions differs from forma-run: %r" % openai)


def check_openai_chunks(payloads, obj, chat):
    check(payloads[-1] == "[DONE]", "the stream does not end with data: [DONE]: %r" % payloads[-1:])
    chunks = [json.loads(p) for p in payloads[:-1]]
    check(chunks, "no chunks")
    ids = {c["id"] for c in chunks}
    check(len(ids) == 1, "chunk ids differ: %r" % ids)
    text = ""
    for i, c in enumerate(chunks):
        check(c["object"] == obj, "object %r" % c["object"])
        check(isinstance(c["created"], int) and isinstance(c["model"], str), "chunk %r" % c)
        check(len(c["choices"]) == 1 and c["choices"][0]["index"] == 0, "choices %r" % c["choices"])
        choice = c["choices"][0]
        last = i == len(chunks) - 1
        check((choice["finish_reason"] is not None) == last, "finish_reason %r in chunk %d" % (choice, i))
        if chat:
            if i == 0:
                check(choice["delta"].get("role") == "assistant", "the first delta has no role: %r" % choice)
            text += choice["delta"].get("content", "")
        else:
            text += choice["text"]
    final = chunks[-1]
    check(final["choices"][0]["finish_reason"] in ("stop", "length"), "finish_reason %r" % final)
    usage = final["usage"]
    check(usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"], "usage %r" % usage)
    return text, final


def check_openai(server):
    answer = post_json(server, "/v1/completions",
                       {"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 16, "temperature": 0.8,
                        "top_p": 0.95, "seed": 5, "n": 1, "user": "test", "stop": None})
    for key in ("id", "object", "created", "model", "choices", "usage"):
        check(key in answer, "no %r in %r" % (key, answer))
    check(answer["object"] == "text_completion" and answer["id"].startswith("cmpl-"), "shape %r" % answer)
    check(len(answer["choices"]) == 1 and answer["choices"][0]["text"], "choices %r" % answer["choices"])
    check(answer["choices"][0]["finish_reason"] == "length", "finish_reason %r" % answer)
    check(answer["usage"]["completion_tokens"] == 16, "usage %r" % answer["usage"])
    check(answer["usage"]["total_tokens"] == answer["usage"]["prompt_tokens"] + 16, "usage %r" % answer["usage"])
    # Streamed, with the same seed: the same text.
    payloads = stream(server, "/v1/completions",
                      {"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 16, "temperature": 0.8,
                       "top_p": 0.95, "seed": 5, "stream": True})
    text, final = check_openai_chunks(payloads, "text_completion", chat=False)
    check(text == answer["choices"][0]["text"], "streamed %r, plain %r" % (text, answer["choices"][0]["text"]))
    check(final["usage"] == answer["usage"], "usage %r vs %r" % (final["usage"], answer["usage"]))

    messages = [{"role": "system", "content": "You tell stories."}, {"role": "user", "content": "Tell me about Lily."}]
    chat = post_json(server, "/v1/chat/completions",
                     {"model": "stories260K", "messages": messages, "max_tokens": 24, "temperature": 0.0})
    check(chat["object"] == "chat.completion" and chat["id"].startswith("chatcmpl-"), "shape %r" % chat)
    message = chat["choices"][0]["message"]
    check(message["role"] == "assistant" and message["content"], "message %r" % message)
    check(chat["choices"][0]["finish_reason"] in ("stop", "length"), "finish_reason %r" % chat)
    check(chat["usage"]["completion_tokens"] <= 24, "usage %r" % chat["usage"])
    # The plain template is the contents, each followed by a newline: the same as a completion.
    same = post_json(server, "/v1/completions",
                     {"model": "m", "prompt": "You tell stories.\nTell me about Lily.\n",
                      "max_tokens": 24, "temperature": 0.0})
    check(same["choices"][0]["text"] == message["content"], "chat %r, completion %r" % (message, same))
    payloads = stream(server, "/v1/chat/completions",
                      {"model": "stories260K", "messages": messages, "max_tokens": 24, "temperature": 0.0,
                       "stream": True, "stream_options": {"include_usage": True}})
    # include_usage: a last chunk with empty choices and the usage, before [DONE].
    usage_chunk = json.loads(payloads[-2])
    check(usage_chunk["choices"] == [] and usage_chunk["usage"] == chat["usage"], "usage chunk %r" % usage_chunk)
    text, _ = check_openai_chunks(payloads[:-2] + payloads[-1:], "chat.completion.chunk", chat=True)
    check(text == message["content"], "streamed %r, plain %r" % (text, message["content"]))

    status, _, data = request(server, "GET", "/v1/models")
    models = json.loads(data)
    check(status == 200 and models["object"] == "list", "models %r" % models)
    check(models["data"][0]["id"] == "stories260K.bin" and models["data"][0]["object"] == "model", "%r" % models)


def check_concurrent(server):
    results = [None] * 8
    errors = []

    def client(i):
        try:
            results[i] = generate_events(server, {"prompt": "Tim and Sue", "max_tokens": 40 + i,
                                                  "temperature": 0.9, "seed": 100 + i})
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append("client %d: %r" % (i, error))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    check(not errors, "; ".join(errors))
    check(all(r is not None for r in results), "a client did not finish")
    # Each equals the same request made alone (the queue serves them one at a time).
    for i in (0, 7):
        alone, _ = generate_events(server, {"prompt": "Tim and Sue", "max_tokens": 40 + i,
                                            "temperature": 0.9, "seed": 100 + i})
        check(alone == results[i][0], "client %d: %r alone, %r together" % (i, alone, results[i][0]))


def open_stream(server, body):
    """A raw socket with a streaming request sent and the response head read; returns the socket
    and the bytes read past the head."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    data = json.dumps(dict(body, stream=True)).encode()
    sock.sendall(b"POST /v1/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    received = b""
    while b"data: " not in received:
        chunk = sock.recv(4096)
        check(chunk, "the connection closed before the first event: %r" % received)
        received += chunk
    check(received.startswith(b"HTTP/1.1 200"), "status line %r" % received[:40])
    return sock


def reset(sock):
    # SO_LINGER 0: close with a reset, so the server's next write fails at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def check_disconnect(server):
    # --token-delay-ms 20: 500 tokens would take 10 s. The client leaves after the first event.
    sock = open_stream(server, {"prompt": "Once", "max_tokens": 500, "temperature": 0.0})
    reset(sock)
    started = time.monotonic()
    answer = post_json(server, "/v1/generate", {"prompt": "Once", "max_tokens": 5, "temperature": 0.0})
    elapsed = time.monotonic() - started
    check(answer["completion_tokens"] == 5, "answer %r" % answer)
    check(elapsed < 8.0, "the next request took %.1f s: the disconnected stream kept the model" % elapsed)
    deadline = time.monotonic() + 30
    while "stop_reason cancelled" not in server.stderr() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.stderr()
    check(re.search(r"generation 1: \d+ prompt tokens, \d+ generated, stop_reason cancelled", log),
          "no cancelled generation in the log:\n" + log)
    generated = int(re.search(r"generation 1: \d+ prompt tokens, (\d+) generated", log).group(1))
    check(generated < 400, "the cancelled generation ran %d tokens" % generated)
    check(server.alive(), "the server died")


def wait_for_waiting(server, waiting):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        health = json.loads(request(server, "GET", "/health")[2])
        if health["waiting"] >= waiting:
            return health
        time.sleep(0.05)
    raise Failure("never %d waiting requests" % waiting)


def check_queue(server):
    # --max-queue 1 --token-delay-ms 20: one generating, one waiting, the third gets 429.
    running = open_stream(server, {"prompt": "Once", "max_tokens": 150, "temperature": 0.0})
    waiting_result = []
    waiter = threading.Thread(target=lambda: waiting_result.append(
        post_json(server, "/v1/generate", {"prompt": "Lily", "max_tokens": 3, "temperature": 0.0})))
    waiter.start()
    health = wait_for_waiting(server, 1)
    check(health["running"] == 1 and health["max_queue"] == 1, "health %r" % health)
    status, _, data = request(server, "POST", "/v1/generate", {"prompt": "Tim", "max_tokens": 3})
    check(status == 429, "a third request got %d, %r (expected 429)" % (status, data))
    check("max-queue" in json.loads(data)["error"]["message"], "429 body %r" % data)
    status, _, _ = request(server, "POST", "/v1/completions", {"prompt": "Tim", "max_tokens": 3, "stream": True})
    check(status == 429, "a streaming third request got %d" % status)
    reset(running)  # frees the model: the waiting request runs, then a new one is admitted
    waiter.join(120)
    check(waiting_result and waiting_result[0]["completion_tokens"] == 3, "the waiting request: %r" % waiting_result)
    answer = post_json(server, "/v1/generate", {"prompt": "Tim", "max_tokens": 3})
    check(answer["completion_tokens"] == 3, "after the queue drained: %r" % answer)


def check_timeout(server):
    # --timeout 1 --token-delay-ms 20: 400 tokens need 8 s, the deadline stops them.
    answer = post_json(server, "/v1/generate", {"prompt": "Once", "max_tokens": 400, "temperature": 0.0})
    check(answer["stop_reason"] == "timeout", "stop_reason %r" % answer)
    check(0 < answer["completion_tokens"] < 400, "completion_tokens %r" % answer)
    text, final = generate_events(server, {"prompt": "Once", "max_tokens": 400, "temperature": 0.0},
                                  stop_reasons=("timeout",))
    check(final["stop_reason"] == "timeout" and 0 < final["completion_tokens"] < 400, "streamed: %r" % final)
    check(text, "no text before the timeout")


BAD_REQUESTS = [
    # (path, raw body, status, field)
    ("/v1/generate", b'{"prompt": "Once", "max_tokens": 5', 400, "body"),
    ("/v1/generate", b'{"prompt": "Once",}', 400, "body"),
    ("/v1/generate", b"not json", 400, "body"),
    ("/v1/generate", b"", 400, "body"),
    ("/v1/generate", b'["prompt"]', 400, "body"),
    ("/v1/generate", b'{"prompt": "\xff\xfe"}', 400, "body"),
    ("/v1/generate", b'{"prompt": "a"} {"prompt": "b"}', 400, "body"),
    ("/v1/generate", b'{"max_tokens": 5}', 400, "prompt"),
    ("/v1/generate", b'{"prompt": 5}', 400, "prompt"),
    ("/v1/generate", b'{"prompt": null}', 400, "prompt"),
    ("/v1/generate", b'{"prompt": "a", "max_tokens": "5"}', 400, "max_tokens"),
    ("/v1/generate", b'{"prompt": "a", "max_tokens": 1.5}', 400, "max_tokens"),
    ("/v1/generate", b'{"prompt": "a", "max_tokens": 0}', 400, "max_tokens"),
    ("/v1/generate", b'{"prompt": "a", "max_tokens": -3}', 400, "max_tokens"),
    ("/v1/generate", b'{"prompt": "a", "max_tokens": 65}', 400, "max_tokens"),
    ("/v1/generate", b'{"prompt": "a", "max_tokens": 1e999}', 400, "max_tokens"),
    ("/v1/generate", b'{"prompt": "a", "temperature": "hot"}', 400, "temperature"),
    ("/v1/generate", b'{"prompt": "a", "temperature": -0.1}', 400, "temperature"),
    ("/v1/generate", b'{"prompt": "a", "temperature": 2.5}', 400, "temperature"),
    ("/v1/generate", b'{"prompt": "a", "temperature": 1e999}', 400, "temperature"),
    ("/v1/generate", b'{"prompt": "a", "top_p": 0}', 400, "top_p"),
    ("/v1/generate", b'{"prompt": "a", "top_p": 1.5}', 400, "top_p"),
    ("/v1/generate", b'{"prompt": "a", "top_p": [1]}', 400, "top_p"),
    ("/v1/generate", b'{"prompt": "a", "seed": -1}', 400, "seed"),
    ("/v1/generate", b'{"prompt": "a", "seed": 18446744073709551616}', 400, "seed"),
    ("/v1/generate", b'{"prompt": "a", "stream": "yes"}', 400, "stream"),
    ("/v1/generate", b'{"prompt": "a", "model": "x"}', 400, "model"),
    ("/v1/generate", b'{"prompt": "a", "bogus": 1}', 400, "bogus"),
    ("/v1/completions", b'{"prompt": "a", "n": 2}', 400, "n"),
    ("/v1/completions", b'{"prompt": "a", "echo": true}', 400, "echo"),
    ("/v1/completions", b'{"prompt": ["a", "b"]}', 400, "prompt"),
    ("/v1/completions", b'{"prompt": "a", "frequency_penalty": 0.5}', 400, "frequency_penalty"),
    ("/v1/completions", b'{"prompt": "a", "stream_options": {"x": 1}}', 400, "stream_options.x"),
    ("/v1/completions", b'{"prompt": "a", "messages": []}', 400, "messages"),
    ("/v1/chat/completions", b'{"prompt": "a"}', 400, "prompt"),
    ("/v1/chat/completions", b'{"model": "m"}', 400, "messages"),
    ("/v1/chat/completions", b'{"messages": []}', 400, "messages"),
    ("/v1/chat/completions", b'{"messages": "hi"}', 400, "messages"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user"}]}', 400, "messages[0].content"),
    ("/v1/chat/completions", b'{"messages": [{"role": "robot", "content": "x"}]}', 400, "messages[0].role"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": 3}]}', 400, "messages[0].content"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x", "mood": 1}]}', 400,
     "messages[0].mood"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}, 5]}', 400, "messages[1]"),
]


def check_bad_input(server):
    good = {"prompt": "Once", "max_tokens": 3, "temperature": 0.0}
    for path, raw, status, field in BAD_REQUESTS:
        got, headers, data = request(server, "POST", path, raw=raw)
        check(got == status, "%s %r: status %d (expected %d), %r" % (path, raw, got, status, data))
        check(dict(headers).get("Content-Type", "").startswith("application/json"), "%r: %r" % (raw, headers))
        error = json.loads(data)["error"]
        check(error["field"] == field, "%s %r: field %r (expected %r)" % (path, raw, error["field"], field))
        check(isinstance(error["message"], str) and error["message"], "no message: %r" % error)
        answer = post_json(server, "/v1/generate", good)
        check(answer["completion_tokens"] == 3, "after %r: %r" % (raw, answer))
    # A prompt longer than the context (512 positions) and one above --max-prompt-bytes.
    long_prompt = "Lily and Tim went to the park to play. " * 45
    for body in ({"prompt": long_prompt}, {"prompt": "a" * 5000}):
        got, _, data = request(server, "POST", "/v1/generate", body)
        check(got == 400 and json.loads(data)["error"]["field"] == "prompt", "long prompt: %d %r" % (got, data))
    got, _, data = request(server, "POST", "/v1/chat/completions",
                           {"messages": [{"role": "user", "content": long_prompt}]})
    check(got == 400 and json.loads(data)["error"]["field"] == "messages", "long chat: %d %r" % (got, data))
    # A body above --max-body-bytes: 413, the field 'body'.
    got, _, data = request(server, "POST", "/v1/generate", raw=b'{"prompt": "' + b"a" * 70000 + b'"}')
    check(got == 413 and json.loads(data)["error"]["field"] == "body", "oversized: %d %r" % (got, data))
    # No such endpoint, a wrong method.
    for method, path in (("GET", "/v1/nothing"), ("GET", "/v1/generate"), ("POST", "/health")):
        got, _, data = request(server, method, path, raw=b"" if method == "POST" else None)
        check(got in (404, 405) and "error" in json.loads(data), "%s %s: %d %r" % (method, path, got, data))
    # Garbage that is not HTTP, then a request line with no end.
    for garbage in (b"GARBAGE\r\n\r\n", b"\x00\x01\x02\x03" * 100 + b"\r\n\r\n",
                    b"POST /v1/generate HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
        sock.close()
        answer = post_json(server, "/v1/generate", good)
        check(answer["completion_tokens"] == 3, "after garbage %r: %r" % (garbage[:20], answer))
    check(server.alive(), "the server died")


def check_endpoints(server):
    status, headers, data = request(server, "GET", "/health")
    health = json.loads(data)
    check(status == 200 and health["status"] == "ok" and health["model"] == "stories260K.bin", "health %r" % health)
    check(health["running"] == 0 and health["waiting"] == 0, "health %r" % health)
    status, headers, data = request(server, "GET", "/")
    page = data.decode()
    check(status == 200 and dict(headers)["Content-Type"].startswith("text/html"), "GET / %d %r" % (status, headers))
    for needle in ("<textarea", "/v1/generate", "getReader()", "max_tokens", "temperature", "<button"):
        check(needle in page, "the playground has no %r" % needle)


class Skipped(Exception):
    pass


def check_playground(server):
    # The page in headless Chromium (Debian's chromium): the URL fills the prompt and settings and
    # presses the button; the dumped DOM must hold the streamed text and the final status.
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise Skipped("no chromium on PATH")
    prompt = "Once upon a time"
    expected = post_json(server, "/v1/generate", {"prompt": prompt, "max_tokens": 40, "temperature": 0})
    query = urllib.parse.urlencode({"prompt": prompt, "max_tokens": 40, "temperature": 0, "autorun": 1})
    # The browser itself (its start, its virtual clock) is not what is under test: a run whose DOM
    # is incomplete is retried, at most 3 runs, each failure printed; the assertions are the same.
    for attempt in range(1, 4):
        with tempfile.TemporaryDirectory(dir=ARGS.work_dir) as profile:
            done = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--user-data-dir=" + profile, "--dump-dom", "--virtual-time-budget=60000",
                 "http://127.0.0.1:%d/?%s" % (server.port, query)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        dom = done.stdout.decode(errors="replace")
        output = re.search(r'<div id="output">(.*?)</div>', dom, re.S)
        status = re.search(r'<div id="status">(.*?)</div>', dom, re.S)
        if done.returncode == 0 and output and status and status.group(1).startswith("done: "):
            break
        print("playground run %d: chromium exited %d; status %r; stderr %s" % (
            attempt, done.returncode, status.group(1) if status else None, done.stderr.decode()[-1500:]))
    check(done.returncode == 0, "chromium exited %d" % done.returncode)
    check(output and status, "no output/status in the DOM:\n" + dom[-3000:])
    check(html.unescape(output.group(1)) == expected["text"],
          "the page shows %r, /v1/generate says %r" % (output.group(1), expected["text"]))
    check(status.group(1).startswith("done: length, 5 prompt tokens, 40 generated"), "status %r" % status.group(1))


def check_signal(signal_number):
    def run(server):
        answer = post_json(server, "/v1/generate", {"prompt": "Once", "max_tokens": 3})
        check(answer["completion_tokens"] == 3, "answer %r" % answer)
        # A stream in progress when the signal comes ends; the server exits 0.
        sock = open_stream(server, {"prompt": "Once", "max_tokens": 500, "temperature": 0.0})
        server.process.send_signal(signal_number)
        try:
            code = server.process.wait(60)
        except subprocess.TimeoutExpired:
            raise Failure("forma-serve did not exit within 60 s of the signal")
        check(code == 0, "exit status %d" % code)
        sock.close()
        check("shutting down" in server.stderr(), "no shutdown message: " + server.stderr())
    return run


def tiny_gguf():
    # A random-weight Llama with tok512 as its own tokenizer: at temperature 1.5 it samples byte
    # pieces (<0xE2> ...) that split characters across tokens, and invalid sequences.
    return [os.path.join(ARGS.data_dir, "gguf", "models", "llama_tiny_q8_0_tok512.gguf")]


def tiny_gpt2():
    return [os.path.join(ARGS.data_dir, "hf", "gpt2_tiny")]


def check_utf8(server):
    held_back = non_ascii = 0
    for seed in range(1, 7):
        body = {"prompt": "Hello \u00e9\U0001F600 world", "max_tokens": 100, "temperature": 1.5, "seed": seed}
        payloads = stream(server, "/v1/generate", dict(body, stream=True))  # decoded as strict UTF-8
        events = [json.loads(p) for p in payloads]
        for event in events[:-1]:
            held_back += event["text"] == ""
            non_ascii += any(ord(c) > 127 for c in event["text"])
            for c in event["text"]:
                check(not 0xD800 <= ord(c) <= 0xDFFF, "a surrogate in %r" % event)
        text, final = generate_events(server, body)
        plain = post_json(server, "/v1/generate", body)
        check(text == plain["text"], "seed %d: streamed %r, plain %r" % (seed, text, plain["text"]))
        check(final["completion_tokens"] == plain["completion_tokens"], "counts differ")
    # The case under test happened: bytes were held back, characters above ASCII came out.
    check(held_back > 0 and non_ascii > 0, "held back %d, non-ASCII %d: nothing was split" % (held_back, non_ascii))


def check_bpe(server):
    # A Hugging Face GPT-2 directory (byte-level BPE beside the weights): greedy equals forma-run's.
    for prompt in ("Hello world", "The quick brown fox"):
        answer = post_json(server, "/v1/generate", {"prompt": prompt, "max_tokens": 24, "temperature": 0})
        check(answer["completion_tokens"] == 24 and answer["stop_reason"] == "length", "answer %r" % answer)
        steps = answer["prompt_tokens"] + answer["completion_tokens"]
        expected = run_forma_run(prompt, steps, model=tiny_gpt2())
        check(expected == prompt + answer["text"] + "\n", "forma-run %r, forma-serve %r" % (expected, answer))
        text, final = generate_events(server, {"prompt": prompt, "max_tokens": 24, "temperature": 0})
        check(text == answer["text"] and final["completion_tokens"] == 24, "streamed %r" % text)


def check_template(rendered_for):
    # --chat-template: the chat reply equals the completion of the prompt the template renders.
    def run(server):
        messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Tell a story."},
                    {"role": "assistant", "content": "Once"}, {"role": "user", "content": "More."}]
        chat = post_json(server, "/v1/chat/completions", {"messages": messages, "max_tokens": 20, "temperature": 0})
        same = post_json(server, "/v1/completions",
                         {"prompt": rendered_for(messages), "max_tokens": 20, "temperature": 0})
        check(chat["choices"][0]["message"]["content"] == same["choices"][0]["text"],
              "chat %r, completion %r" % (chat, same))
        check(chat["usage"] == same["usage"], "usage %r vs %r" % (chat["usage"], same["usage"]))
    return run


def chatml(messages):
    return "".join("<|im_start|>%s\n%s<|im_end|>\n" % (m["role"], m["content"]) for m in messages) + \
        "<|im_start|>assistant\n"


def llama2(messages):
    # run.c's template for the first user turn (with the system prompt), [INST] ... [/INST] after.
    return "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nTell a story. [/INST] Once [INST] More. [/INST]"


def check_stop(server):
    # Stop strings: the text ends just before the first one, finish_reason "stop"; streamed, text
    # that may still become a stop string is held back, so no event carries any of it.
    base = post_json(server, "/v1/generate", {"prompt": "Once upon a time", "max_tokens": 60, "temperature": 0})
    full = base["text"]
    check(base["stop_reason"] == "length", "base %r" % base)
    # One word, a string across several tokens, the earlier of two, one that never comes.
    for stop, expected_end in (("Lily", full.index("Lily")), (" named Li", full.index(" named Li")),
                               (["park", "girl"], min(full.index("park"), full.index("girl"))),
                               ("zebra!", None)):
        body = {"prompt": "Once upon a time", "max_tokens": 60, "temperature": 0, "stop": stop}
        answer = post_json(server, "/v1/generate", body)
        text, final = generate_events(server, body, stop_reasons=("stop", "length"))
        expected = full if expected_end is None else full[:expected_end]
        check(answer["text"] == expected, "stop %r: %r, expected %r" % (stop, answer["text"], expected))
        check(text == expected, "stop %r streamed: %r, expected %r" % (stop, text, expected))
        check(answer["stop_reason"] == final["stop_reason"] == ("length" if expected_end is None else "stop"),
              "stop %r: %r / %r" % (stop, answer["stop_reason"], final["stop_reason"]))
        completion = post_json(server, "/v1/completions", dict(body, model="m"))
        check(completion["choices"][0]["text"] == expected, "completions %r" % completion)
        check(completion["choices"][0]["finish_reason"] == ("length" if expected_end is None else "stop"),
              "finish_reason %r" % completion)
        payloads = stream(server, "/v1/completions", dict(body, model="m", stream=True))
        streamed, last = check_openai_chunks(payloads, "text_completion", chat=False)
        check(streamed == expected and last["choices"][0]["finish_reason"] == completion["choices"][0]["finish_reason"],
              "streamed completions %r" % streamed)
    for bad_stop in (5, "", [""], ["a", 3], ["a", "b", "c", "d", "e"], {"a": 1}, "x" * 257):
        got, _, data = request(server, "POST", "/v1/generate", {"prompt": "Once", "stop": bad_stop})
        check(got == 400 and json.loads(data)["error"]["field"] == "stop", "stop %r: %d %r" % (bad_stop, got, data))


CHECKS = {
    "haiku": (check_haiku, []),
    "sse": (check_sse, []),
    "greedy": (check_greedy, []),
    "openai": (check_openai, []),
    "concurrent": (check_concurrent, []),
    "disconnect": (check_disconnect, ["--token-delay-ms", "20"]),
    "queue": (check_queue, ["--max-queue", "1", "--token-delay-ms", "20"]),
    "timeout": (check_timeout, ["--timeout", "1", "--token-delay-ms", "20"]),
    "bad-input": (check_bad_input, ["--max-tokens-limit", "64", "--max-prompt-bytes", "4096",
                                    "--max-body-bytes", "65536"]),
    "endpoints": (check_endpoints, []),
    "sigterm": (check_signal(signal.SIGTERM), ["--token-delay-ms", "20"]),
    "sigint": (check_signal(signal.SIGINT), ["--token-delay-ms", "20"]),
    "playground": (check_playground, []),
    "stop": (check_stop, []),
    "chatml": (check_template(chatml), ["--chat-template", "chatml"]),
    "llama2-template": (check_template(llama2), ["--chat-template", "llama2"]),
    "utf8": (check_utf8, [], tiny_gguf),
    "bpe": (check_bpe, [], tiny_gpt2),
}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--work-dir", default=".")
    parser.add_argument("check", choices=sorted(CHECKS))
    ARGS = parser.parse_args()
    function, extra, *model = CHECKS[ARGS.check]
    server = Server(*extra, model=model[0]() if model else None)
    try:
        function(server)
        check(server.process.poll() in (None, 0), "forma-serve exited with %r" % server.process.poll())
    except Skipped:
        raise
    except Exception:
        sys.stderr.write("forma-serve's stderr:\n" + server.stderr()[-4000:] + "\n")
        raise
    finally:
        server.stop()
    print("%s: passed" % ARGS.check)


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print("FAILED: %s" % failure, file=sys.stderr)
        sys.exit(1)
    except Skipped as skipped:
        print("SKIPPED: %s" % skipped)
        sys.exit(77)
