#!/usr/bin/env python3
"""forma-serve against the official `openai` Python package: completions and chat completions,
streaming and not, the model list and a 400 as openai.BadRequestError. Exits 77 (CTest: skipped)
when the package is not importable; CMake's FORMA_OPENAI_PYTHON names an interpreter that has it.

  openai_client_test.py --serve BIN --run BIN --model-dir DIR
"""
import sys

sys.dont_write_bytecode = True  # importing serve_test must leave no __pycache__ in the source tree

try:
    import openai
except ImportError:
    print("SKIPPED: the openai package is not importable by %s" % sys.executable)
    sys.exit(77)

import serve_test
from serve_test import Failure, check


def run(server):
    client = openai.OpenAI(base_url="http://127.0.0.1:%d/v1" % server.port, api_key="unused", max_retries=0,
                           timeout=serve_test.TIMEOUT)
    models = client.models.list()
    check([m.id for m in models.data] == ["stories260K.bin"], "models %r" % models)
    model = models.data[0].id

    completion = client.completions.create(model=model, prompt="Once upon a time", max_tokens=16, temperature=0)
    text = completion.choices[0].text
    check(text and completion.choices[0].finish_reason == "length", "completion %r" % completion)
    check(completion.usage.completion_tokens == 16, "usage %r" % completion.usage)
    streamed = "".join(chunk.choices[0].text
                       for chunk in client.completions.create(model=model, prompt="Once upon a time",
                                                              max_tokens=16, temperature=0, stream=True))
    check(streamed == text, "streamed %r, plain %r" % (streamed, text))
    # forma-run -t 0 tells the same.
    check(serve_test.run_forma_run("Once upon a time", 4 + 16) == "Once upon a time" + text + "\n",
          "differs from forma-run: %r" % text)

    messages = [{"role": "user", "content": "Tell me a story about a cat."}]
    chat = client.chat.completions.create(model=model, messages=messages, max_tokens=20, temperature=0)
    reply = chat.choices[0].message
    check(reply.role == "assistant" and reply.content, "chat %r" % chat)
    check(chat.usage.total_tokens == chat.usage.prompt_tokens + chat.usage.completion_tokens, "usage %r" % chat)
    pieces = []
    for chunk in client.chat.completions.create(model=model, messages=messages, max_tokens=20, temperature=0,
                                                stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    check("".join(pieces) == reply.content, "streamed %r, plain %r" % ("".join(pieces), reply.content))

    try:
        client.completions.create(model=model, prompt="Once", max_tokens=4, temperature=-1)
        raise Failure("temperature -1 was accepted")
    except openai.BadRequestError as error:
        check(error.status_code == 400 and "temperature" in str(error), "error %r" % error)
    print("openai %s: completions, chat, streaming, models, errors: passed" % openai.__version__)


def main():
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--data-dir", default=".")
    parser.add_argument("--work-dir", default=".")
    serve_test.ARGS = parser.parse_args()
    server = serve_test.Server()
    try:
        run(server)
    except Exception:
        sys.stderr.write("forma-serve's stderr:\n" + server.stderr()[-4000:] + "\n")
        raise
    finally:
        server.stop()


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print("FAILED: %s" % failure, file=sys.stderr)
        sys.exit(1)
