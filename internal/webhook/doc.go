// Package webhook delivers a workspace's events to its customers' systems: endpoints, the event
// catalog, Standard Webhooks signing, the fan-out of the events outbox, durable deliveries with
// retries, and the log of attempts.
//
// Rules and invariants:
//   - Endpoints belong to one workspace; every store method takes the workspace ID and filters on
//     it, so another workspace's endpoint, message or attempt is 404. Reading endpoints and their
//     deliveries is webhooks.read (owner, admin; key scope webhooks:read); everything else,
//     revealing a secret included, is webhooks.write (owner, admin; webhooks:write). Members do
//     not see endpoints: their URLs and headers may carry credentials of the receiving system.
//   - An endpoint's URL is https; plain http only when the operator starts Parley with
//     --webhook-allow-private (development and tests). The URL is checked when saved (scheme, no
//     user info, no localhost or *.internal names, no literal private address) and again when
//     each delivery connects: the dialer refuses loopback, private, link-local, multicast,
//     unspecified and cloud-metadata addresses after DNS resolution (code.dny.dev/ssrf), so DNS
//     rebinding does not get through; redirects are never followed.
//   - Each endpoint has a signing secret "whsec_" + base64(32 random bytes), sealed at rest with the
//     master keyring. It is shown on create, by reveal-secret and by rotate-secret. Rotating keeps
//     the previous secret valid for PreviousSecretValidity (24 h): meanwhile every delivery carries
//     both signatures.
//   - Signing is the Standard Webhooks scheme: webhook-id (the message ID, msg_…, the same on every
//     attempt), webhook-timestamp (Unix seconds of the attempt), webhook-signature
//     "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" where key is the base64-decoded part of the
//     secret; plus Parley-Workspace-Id and Parley-Event-Type. The body is the event envelope
//     {id, type, timestamp, workspaceId, data}, stored once per message and sent byte for byte.
//   - Fan-out (docs/decisions/0008): a trigger on events queues, in the event's own transaction,
//     every event of a workspace that has an enabled endpoint (webhook_outbox). The Dispatcher
//     claims queued events (FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas share them) and in
//     one transaction creates one message per matching endpoint, enqueues its delivery job (River,
//     InsertTx) and deletes the events from the queue. So every committed event is fanned out
//     exactly once, whatever order transactions commit in (a crash rolls the batch back, and
//     (endpoint, event) is unique), and each message is delivered at least once.
//     An endpoint receives the events that happen after its creation, whose type it subscribes
//     to ("*": all), and, when it names agentIds, only events about those agents.
//   - An endpoint's custom headers (often the receiver's credentials) are sealed at rest like its
//     secret (AAD: workspace, webhook_endpoints, headers, endpoint ID). Rows saved in clear by an
//     older version are read as they are and sealed by SealLegacyHeaders when the dispatcher
//     starts.
//   - Delivery: a 15 s timeout, success is any 2xx; anything else is retried on RetrySchedule
//     (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each ±10 % jitter), then the
//     message is failed. A 429 or 503 with Retry-After waits that long instead when it is longer
//     than the schedule's delay, up to MaxRetryAfter (1 h); never sooner, never more attempts.
//     Every attempt is logged (status, latency, first 4 KiB of the answer, error).
//   - Disabling: 410 Gone disables the endpoint at once; so does a run of failed attempts lasting
//     DisableAfter (5 days; failing_since is set by the first failure of a run and cleared by any
//     success or by enabling the endpoint). Both publish webhook.endpoint_disabled and mail the
//     workspace's owner and admins, in the attempt's transaction.
//   - Replay re-queues an endpoint's failed messages (or all, with All) created since a time, at
//     most MaxReplay per call. Retry and replay keep each message's webhook-id.
//   - Retention: the hourly webhook.prune job deletes attempts, and messages no longer pending,
//     older than the retention (30 days; --webhook-retention), in batches. Pruning, the outbox
//     claim and SealLegacyHeaders are the only statements that span workspaces.
package webhook
