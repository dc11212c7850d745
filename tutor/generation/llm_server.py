"""A small OpenAI-compatible chat server over any transformers causal LM.

It lets one stronger machine serve a generator to many classrooms
(``TUTOR_GENERATOR=openai:http://host:8081/v1`` on the others), and it is the real server
the ``openai`` backend is tested against. vLLM, Ollama or llama.cpp's server do the same
job faster; this one needs nothing beyond what Ustaz already installs.

    python -m tutor.generation.llm_server --model /path/to/model --port 8081
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tutor.config import GENERATOR_PRECISIONS
from tutor.generation.generators import TransformersGenerator
from tutor.generation.reader import TransformersReader


def build_app(generator, model_name: str) -> Starlette:
    async def models(_: Request):
        return JSONResponse({"object": "list", "data": [{"id": model_name, "object": "model"}]})

    async def chat(request: Request):
        try:
            body = await request.json()
            messages = body["messages"]
            max_tokens = int(body.get("max_tokens") or 256)
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": {"message": "expected {messages: [...]}"}}, status_code=400)
        cid = "chatcmpl-" + uuid.uuid4().hex[:12]

        def chunk(delta: dict, finish=None) -> str:
            data = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": model_name, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        if body.get("stream"):
            def events():
                yield chunk({"role": "assistant"})
                for piece in generator.stream(messages, max_tokens):
                    yield chunk({"content": piece})
                yield chunk({}, "stop")
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        text = generator.generate(messages, max_tokens)
        return JSONResponse({"id": cid, "object": "chat.completion", "model": model_name,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}]})

    reader = TransformersReader(generator.model, generator.tokenizer, name=model_name) \
        if hasattr(generator, "tokenizer") else None

    async def completions(request: Request):
        # Only what the evidence reader asks (tutor/generation/reader.py): the prompt's own
        # log-probabilities and one token, as vLLM returns them for echo with logprobs.
        try:
            body = await request.json()
            prompts = [body["prompt"]] if isinstance(body["prompt"], str) else list(body["prompt"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": {"message": "expected {prompt: ...}"}}, status_code=400)
        if reader is None or not body.get("echo") or body.get("logprobs") is None:
            return JSONResponse({"error": {"message": "this server answers completions with echo and "
                                                      "logprobs only"}}, status_code=400)
        choices = []
        for i, prompt in enumerate(prompts):
            scored = reader.token_logprobs(prompt)
            word = scored.pop("next")
            choices.append({"index": i, "text": prompt + word, "logprobs": scored, "finish_reason": "length"})
        return JSONResponse({"id": "cmpl-" + uuid.uuid4().hex[:12], "object": "text_completion",
                             "model": model_name, "choices": choices})

    return Starlette(routes=[Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/completions", completions, methods=["POST"])])


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a transformers model folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--precision", default="auto", choices=GENERATOR_PRECISIONS)
    args = parser.parse_args(argv)
    generator = TransformersGenerator(args.model, threads=args.threads, precision=args.precision)
    uvicorn.run(build_app(generator, args.model), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
