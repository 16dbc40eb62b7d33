// Package events is Parley's outbox of domain events: "call.completed", "agent.updated", … each
// written in the same transaction as the change it reports.
//
// Contract:
//   - A capability publishes with Publish(ctx, tx, e), passing the transaction of the change (the
//     db.Querier it was given, never the pool: on SQLite that would deadlock). So an event exists
//     exactly when its change was committed: a rolled-back change leaves no event, and a crash
//     after the commit loses none.
//   - An event belongs to one workspace (WorkspaceID), or to none for account-level events, which
//     List never returns. Deleting a workspace deletes its events (ON DELETE CASCADE).
//   - Events are append-only: there is no update, and no delete other than the workspace's.
//   - Type is a stable dotted lower-case name, "<resource>.<what happened>" ("call.completed").
//     Types and the fields of their Data are a public contract once webhooks carry them: add
//     fields, never rename or remove them.
//   - Data is a JSON object. It is stored as given (marshalled once, at Publish) and read back
//     verbatim as json.RawMessage. It must not hold secrets: it leaves the system in webhooks.
//   - Event's JSON form is the envelope that webhook deliveries carry:
//     {"id", "type", "timestamp", "workspaceId", "data"}, timestamp in RFC 3339 UTC with
//     millisecond precision (the stored precision).
//   - IDs (evt_…) sort by creation time, and List reads in ID order. ID order is creation order,
//     not commit order: on PostgreSQL two transactions can commit out of ID order, so a consumer
//     that pages with a cursor (afterID) must tolerate that, e.g. by only advancing past events
//     older than a few seconds. On SQLite, with its single writer, the two orders agree.
//
// Consumers (the webhook fan-out first) come later: an event is a fact recorded durably, and
// whatever reacts to it runs as a job (platform/jobs), inserted in the same transaction or by a
// consumer reading the outbox.
package events
