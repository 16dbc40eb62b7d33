// An independent Standard Webhooks verifier, with Node's own crypto, written from the
// specification (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
// signed content = id + "." + timestamp + "." + body; HMAC-SHA256 keyed with the base64-decoded
// part of "whsec_…"; webhook-signature holds space-separated "v1,<base64>" entries; the
// timestamp must be within 5 minutes of now.
// Usage: node verify-webhooks.mjs deliveries.json — a JSON array of
// {secrets: [...], headers: {"webhook-id", "webhook-timestamp", "webhook-signature"}, body}.
// Each secret given must verify the delivery. Prints "verified N" or exits 1.
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

function verify(secret, headers, body) {
  const id = headers["webhook-id"], ts = headers["webhook-timestamp"], sigs = headers["webhook-signature"];
  if (!id || !ts || !sigs) throw new Error("missing webhook-* header");
  const now = Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > 300) throw new Error(`timestamp ${ts} outside the 5 minute tolerance`);
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest();
  for (const entry of sigs.split(" ")) {
    const [version, sig] = entry.split(",");
    if (version !== "v1") continue;
    const got = Buffer.from(sig, "base64");
    if (got.length === expected.length && timingSafeEqual(got, expected)) return;
  }
  throw new Error(`no valid v1 signature for ${id}`);
}

// The specification's test vector first, so a broken verifier cannot pass vacuously.
const vector = createHmac("sha256", Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64"))
  .update('msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}').digest("base64");
if (vector !== "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") throw new Error("test vector mismatch: " + vector);

const deliveries = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const d of deliveries) for (const s of d.secrets) verify(s, d.headers, d.body);
console.log(`verified ${deliveries.length}`);
