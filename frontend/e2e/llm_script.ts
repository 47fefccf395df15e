// A scripted OpenAI-compatible model server for the chat e2e tests: real HTTP on 127.0.0.1, answering
// `POST .../chat/completions` with the next scripted round: text pieces and tool calls, streamed as
// `chat.completion.chunk` events when the request asks for `stream` (each piece its own write), or as
// one JSON answer when not. Every request body is recorded, so a test can see what the daemon sent
// the model (the tool answers it fed back), and an answer left hanging counts the client hanging up.
// When the script runs out it answers a short text.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface Round {
  /** Text pieces, streamed in this order. */
  text?: string[];
  /** Tool calls the model makes in this round (the daemon answers them and asks again). */
  tools?: { name: string; arguments: Record<string, unknown> }[];
  /** Stream the text, then keep the answer open until the client hangs up (counted in `abandoned`). */
  hang?: boolean;
}

export class ScriptedLlm {
  readonly requests: Record<string, unknown>[] = [];
  /** Answers the client hung up on before they ended. */
  abandoned = 0;
  private script: Round[] = [];
  private calls = 0;

  private constructor(
    private server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ScriptedLlm> {
    let me: ScriptedLlm | null = null;
    const server = createServer((req, res) => void me?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const addr = server.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    me = new ScriptedLlm(server, `http://127.0.0.1:${port}`);
    return me;
  }

  /** Adds rounds to answer, in order. */
  push(...rounds: Round[]) {
    this.script.push(...rounds);
  }

  /** `[llm]` settings naming this server as the default model `scripted` (no key: a local server). */
  toml(): string {
    return `\n[llm]\ndefault = "scripted"\n\n[llm.models.scripted]\nprovider = "openai"\nbase_url = "${this.url}/v1"\nmodel = "scripted-model"\nretries = 0\n`;
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    } catch {
      res.writeHead(400).end();
      return;
    }
    this.requests.push(body);
    const round = this.script.shift() ?? { text: ["(the script has no more answers)"] };
    const text = round.text ?? [];
    const tools = (round.tools ?? []).map((t, i) => ({ id: `call_${++this.calls}_${i}`, name: t.name, args: JSON.stringify(t.arguments) }));
    const finish = tools.length ? "tool_calls" : "stop";
    const usage = { prompt_tokens: 40, completion_tokens: 8, total_tokens: 48 };
    if (!body.stream) {
      const message: Record<string, unknown> = { role: "assistant", content: text.length ? text.join("") : null };
      if (tools.length) message.tool_calls = tools.map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: t.args } }));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "chatcmpl-e2e", object: "chat.completion", model: "scripted-model", choices: [{ index: 0, message, finish_reason: finish }], usage }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (v: unknown) => new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(v)}\n\n`, () => resolve()));
    const chunk = (delta: unknown, finish_reason: string | null = null) => ({ object: "chat.completion.chunk", model: "scripted-model", choices: [{ index: 0, delta, finish_reason }] });
    for (const piece of text) await send(chunk({ content: piece }));
    if (round.hang) {
      res.on("close", () => (this.abandoned += 1));
      return;
    }
    for (const [index, t] of tools.entries()) {
      // The arguments in two pieces, as providers send them.
      const half = Math.floor(t.args.length / 2);
      await send(chunk({ tool_calls: [{ index, id: t.id, type: "function", function: { name: t.name, arguments: t.args.slice(0, half) } }] }));
      await send(chunk({ tool_calls: [{ index, function: { arguments: t.args.slice(half) } }] }));
    }
    await send(chunk({}, finish));
    await send({ object: "chat.completion.chunk", choices: [], usage });
    res.end("data: [DONE]\n\n");
  }
}
