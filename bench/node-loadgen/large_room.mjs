// The large-room load generator in Node: N raw Engine.IO v4 / Socket.IO v5 clients over
// ws, driven phase by phase by bench/large_room.py (--loadgen node).
//
// Input: a JSON file (argv[2]) {url, tokens, streamId, senders, rates, duration,
// idleSeconds, concurrency, joinBatch}. Protocol on stdio, one line each:
//   node -> "ready <phase>"   python waits for the server to go idle, starts its CPU window
//   python -> "go"
//   node -> "done <phase> <json>"
// Phases: connect, join, idle, chat:<rate>... Every wait has a deadline.
// Latency: each chat text carries "bm:<run>:<sender>:<seq>:<hrtime ns>"; receivers and
// senders share this process's clock.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const lines = createInterface({ input: process.stdin });
const goQueue = [];
lines.on("line", (line) => {
  const waiter = goQueue.shift();
  if (waiter) waiter(line);
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => process.hrtime.bigint();

async function phase(name, body) {
  const go = new Promise((resolve) => goQueue.push(resolve));
  process.stdout.write(`ready ${name}\n`);
  await go;
  const result = await body();
  process.stdout.write(`done ${name} ${JSON.stringify(result)}\n`);
}

const stats = {
  run: "",
  deliveries: new Map(),
  latencies: [],
  lastMessageAt: 0,
  lastCountAt: 0,
  joined: 0,
  countUpdates: 0,
  unexpectedCloses: 0,
  closeReasons: {},
};

class Client {
  constructor(index, token) {
    this.index = index;
    this.token = token;
    this.acks = new Map();
    this.nextAck = 0;
    this.closed = false;
    this.closing = false;
    this.joined = false;
    this.count = null;
  }

  connect(timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("timeout"));
        this.ws.terminate();
      }, timeoutMs);
      this.ws = new WebSocket(cfg.url, { perMessageDeflate: false });
      this.ws.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      this.ws.on("close", (code) => {
        this.closed = true;
        for (const ack of this.acks.values()) ack(null);
        this.acks.clear();
        if (!this.closing && this.sid) {
          stats.unexpectedCloses += 1;
          const reason = `close ${code}`;
          stats.closeReasons[reason] = (stats.closeReasons[reason] || 0) + 1;
        }
      });
      this.ws.on("message", (data) => {
        const frame = data.toString();
        if (frame.startsWith("42")) this.onEvent(frame);
        else if (frame === "2") this.ws.send("3");
        else if (frame.startsWith("43")) this.onAck(frame);
        else if (frame.startsWith("0")) this.ws.send("40" + JSON.stringify({ token: this.token }));
        else if (frame.startsWith("40")) {
          this.sid = JSON.parse(frame.slice(2)).sid;
          clearTimeout(timer);
          resolve();
        } else if (frame.startsWith("44")) {
          clearTimeout(timer);
          reject(new Error("auth_refused"));
        }
      });
    });
  }

  onEvent(frame) {
    if (frame.startsWith('42["new_message"')) {
      const at = now();
      stats.lastMessageAt = Date.now();
      const start = frame.indexOf('"bm:');
      if (start < 0) return;
      const end = frame.indexOf('"', start + 1);
      const [run, sender, seq, sent] = frame.slice(start + 4, end).split(":");
      if (run !== stats.run) return;
      const key = `${sender}:${seq}`;
      stats.deliveries.set(key, (stats.deliveries.get(key) || 0) + 1);
      stats.latencies.push(Number(at - BigInt(sent)) / 1e6);
    } else if (frame.startsWith('42["viewer_count_updated"')) {
      stats.countUpdates += 1;
      stats.lastCountAt = Date.now();
      const m = /"count":\s*(\d+)/.exec(frame);
      if (m) this.count = Number(m[1]);
    } else if (frame.startsWith('42["room_joined_successfully"')) {
      this.joined = true;
      stats.joined += 1;
    }
  }

  onAck(frame) {
    const bracket = frame.indexOf("[", 2);
    const id = Number(frame.slice(2, bracket));
    const ack = this.acks.get(id);
    if (ack) {
      this.acks.delete(id);
      ack(JSON.parse(frame.slice(bracket))[0]);
    }
  }

  // Resolves with the ack's first argument, or null (closed, or no answer in timeoutMs).
  call(event, payload, timeoutMs) {
    if (this.closed) return Promise.resolve(null);
    const id = this.nextAck++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        resolve(null);
      }, timeoutMs);
      this.acks.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }
}

function percentile(sorted, q) {
  if (!sorted.length) return null;
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length));
  return Math.round(sorted[Math.min(rank, sorted.length) - 1] * 100) / 100;
}

function outcome(reply) {
  if (reply === null) return "missing";
  return reply && reply.ok === true ? "ok" : String(reply && reply.message);
}

async function waitQuiet(lastSeen, quietMs, capMs) {
  const deadline = Date.now() + capMs;
  while (Date.now() < deadline) {
    if (Date.now() - lastSeen() >= quietMs) return true;
    await sleep(50);
  }
  return false;
}

const clients = cfg.tokens.map((token, i) => new Client(i, token));
const inRoom = () => clients.filter((c) => c.joined && !c.closed);

await phase("connect", async () => {
  const t0 = Date.now();
  const failures = {};
  const handshakes = [];
  let next = 0;
  async function worker() {
    while (next < clients.length) {
      const client = clients[next++];
      const s = now();
      try {
        await client.connect(60000);
        handshakes.push(Number(now() - s) / 1e6);
      } catch (err) {
        const kind = err.message.slice(0, 60);
        failures[kind] = (failures[kind] || 0) + 1;
        client.closing = true;
      }
    }
  }
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
  const seconds = (Date.now() - t0) / 1000;
  handshakes.sort((a, b) => a - b);
  const connected = clients.filter((c) => c.sid && !c.closed).length;
  return {
    n: clients.length,
    connected,
    failures,
    seconds,
    connects_per_s: Math.round(connected / seconds),
    handshake_p50_ms: percentile(handshakes, 50),
    handshake_p99_ms: percentile(handshakes, 99),
  };
});

await phase("join", async () => {
  const t0 = Date.now();
  const outcomes = {};
  for (let start = 0; start < clients.length; start += cfg.joinBatch) {
    const batch = clients.slice(start, start + cfg.joinBatch).filter((c) => !c.closed);
    const replies = await Promise.all(
      batch.map((c) => c.call("join_stream_room", { streamId: cfg.streamId }, 60000)),
    );
    for (const r of replies) outcomes[outcome(r)] = (outcomes[outcome(r)] || 0) + 1;
  }
  const seconds = (Date.now() - t0) / 1000;
  const quiet = await waitQuiet(() => stats.lastCountAt, 1000, 120000);
  const room = inRoom();
  const exact = room.filter((c) => c.count === room.length).length;
  return {
    n: clients.length,
    batch: cfg.joinBatch,
    seconds,
    joins_per_s: Math.round((outcomes.ok || 0) / seconds),
    outcomes,
    room_joined_received: stats.joined,
    viewer_count_updates: stats.countUpdates,
    count_quiet_reached: quiet,
    room_size: room.length,
    final_count_exact: exact,
  };
});

await phase("idle", async () => {
  await sleep(cfg.idleSeconds * 1000);
  return { seconds: cfg.idleSeconds, connections: clients.filter((c) => !c.closed).length };
});

for (const [step, rate] of cfg.rates.entries()) {
  await phase(`chat:${rate}`, async () => {
    const room = inRoom();
    const receivers = room.length;
    const senders = room.slice(0, cfg.senders);
    stats.run = `N${step}`;
    stats.deliveries = new Map();
    stats.latencies = [];
    stats.lastMessageAt = Date.now();
    const interval = (1000 * senders.length) / rate;
    const sent = [];
    const t0 = Date.now();
    await Promise.all(
      senders.map(async (client, n) => {
        const start = t0 + (n * interval) / senders.length;
        for (let seq = 0; seq * interval < cfg.duration * 1000; seq++) {
          const delay = start + seq * interval - Date.now();
          if (delay > 0) await sleep(delay);
          const text = `bm:${stats.run}:${n}:${seq}:${now()}`;
          const reply = client.call("chat_message", { streamId: cfg.streamId, message: text }, 60000);
          sent.push([`${n}:${seq}`, reply]);
        }
      }),
    );
    const sendSeconds = (Date.now() - t0) / 1000;
    const replies = await Promise.all(sent.map(([, r]) => r));
    const ok = sent.filter((_, i) => outcome(replies[i]) === "ok").map(([key]) => key);
    const wanted = ok.length * receivers;
    const deadline = Date.now() + 60000;
    const deliveredOk = () => ok.reduce((n, k) => n + Math.min(stats.deliveries.get(k) || 0, receivers), 0);
    while (Date.now() < deadline) {
      if (deliveredOk() >= wanted || Date.now() - stats.lastMessageAt >= 2000) break;
      await sleep(50);
    }
    const delivered = deliveredOk();
    const latencies = Float64Array.from(stats.latencies).sort();
    const failed = {};
    replies.forEach((r) => {
      const o = outcome(r);
      if (o !== "ok") failed[o] = (failed[o] || 0) + 1;
    });
    return {
      receivers,
      senders: senders.length,
      target_rate_total: rate,
      duration_s: cfg.duration,
      sent: sent.length,
      send_rate_achieved: Math.round((10 * sent.length) / sendSeconds) / 10,
      acked_ok: ok.length,
      ack_failed: failed,
      expected_deliveries: wanted,
      delivered,
      lost: wanted - delivered,
      delivered_ratio: wanted ? Math.round((delivered / wanted) * 1e5) / 1e5 : null,
      samples: latencies.length,
      p50_ms: percentile(latencies, 50),
      p95_ms: percentile(latencies, 95),
      p99_ms: percentile(latencies, 99),
      max_ms: percentile(latencies, 100),
      unexpected_closes_so_far: stats.unexpectedCloses,
    };
  });
}

await phase("close", async () => {
  for (const c of clients) {
    c.closing = true;
    if (!c.closed) c.ws.close();
  }
  await sleep(1000);
  return { unexpected_closes: stats.unexpectedCloses, close_reasons: stats.closeReasons };
});
process.exit(0);
