// Package billing owns the credit ledger of each workspace: a double-entry, append-only record of
// every movement of credits, with two-phase holds for calls in progress.
//
// Accounts. Every workspace has four accounts, identified by (workspace ID, kind):
//   - available: credits the workspace may spend;
//   - held: credits reserved by live holds (a call in progress);
//   - grants: the platform's source of the credits granted to the workspace (welcome credits,
//     operator grants, later payments); its balance is minus everything ever granted, net of
//     what went back to it (expired credits, credits transferred to another workspace);
//   - revenue: the platform's account of the credits the workspace has spent.
//
// grants and revenue are the platform's accounts, kept as one sub-account per workspace (as
// formance's @platform:revenue:ws_…): the platform's total is their sum, and no single platform
// row is written by every transfer of every workspace (on PostgreSQL it would serialise them all).
// So every store method, platform accounts included, takes the workspace ID and filters on it.
// The exceptions are operator-wide reads: Verify (which sums the whole ledger) and the expiry
// sweeps (which find due holds and due credit lots in every workspace, then expire each through
// its workspace).
//
// Invariants (Verify checks them; `parley credits verify` reports any difference):
//   - Amounts are int64 micro-credits (1 credit = 1,000,000); there is no float anywhere. In the
//     API, amounts are decimal strings with at most 6 decimals ("12.5") beside integer micros.
//   - Double entry: a transfer debits one account and credits another of the same workspace by
//     the same positive amount. A balance is credits minus debits, so the balances of a workspace
//     (and of the whole ledger) always sum to zero.
//   - Append-only: transfers are never updated or deleted; a mistake is corrected by another
//     transfer. A balance is kept in the same transaction as the transfers that change it, and
//     always equals the sum of its transfers.
//   - No overdraft: available and held never go below zero. A debit is a single conditional
//     statement (UPDATE … SET balance = balance - x WHERE … AND balance >= x); when it changes no
//     row the whole operation is refused (402 insufficient_credits) and nothing is written. This
//     is safe under concurrency on both stores: SQLite runs one writer at a time; PostgreSQL
//     re-checks the WHERE on the latest row version after waiting for its lock. A CHECK
//     constraint on the table repeats the rule.
//   - Deadlock-free: an operation's legs are summed per account and applied in one fixed order
//     (available, held, grants, revenue).
//   - Idempotency: every operation carries an idempotency key, unique in the workspace. The same
//     key with the same input is the same operation: it is written once and a retry gets the
//     first result (Replayed). The same key with another input is 409 idempotency_conflict. A
//     refused operation (insufficient credits) writes nothing, so its key stays free.
//   - Holds (two-phase, as TigerBeetle's pending transfers): Reserve moves credits from
//     available to held under a reference (e.g. the call ID), unique in the workspace; Extend adds
//     to a live hold; Settle debits the actual cost (held → revenue, at most what is held) and
//     returns the rest (held → available); Release returns everything; a hold not resolved by its
//     expiry time is returned by the expiry job. A hold resolves exactly once; the held balance
//     equals the sum of the workspace's active holds.
//   - Batches: DebitBatch debits many usage records of one workspace in one transaction; each
//     record is still its own idempotent debit, judged in order (one conditional statement for
//     the whole batch when the balance covers it, else one per record).
//   - Transfers between workspaces (Transfer; the owner of both): one operation in one
//     transaction, two legs under the same idempotency key: transfer_out (available → grants)
//     in the source, whose reference names the target, and transfer_in (grants → available) in
//     the target, whose reference names the source. Each workspace still sums to zero; the
//     cross-workspace invariant is that every leg has its pair (same key, the other kind, in
//     the workspace its reference names, naming this one, same amount): Verify reports a leg
//     without one. The two workspaces' rows are written in workspace-ID order (no deadlock).
//   - Expiry: a grant may carry an expiry. Its credits form a lot (billing_credit_lots) whose
//     remaining is what is left unspent; the available row keeps expiring, the sum of the
//     remaining of the active lots, and expiring ≤ available always (Verify checks both). Every
//     debit of available (a debit, a reserve, a transfer out) is taken from the lots first, the
//     lot that expires first first (then the oldest): credits that expire are spent before
//     credits that do not. Credits a hold returns (release, the unused part of a settle) come
//     back as credits without expiry. A transfer out carries the lots' expiries into the target.
//     When a lot is due, the expiry job (under the lock of the available row) marks it expired
//     and moves its remaining out through a transfer of kind expire (available → grants, key
//     expire:<lot ID>): never silently, and only once. A workspace without expiring credits
//     pays nothing for this on a debit (expiring = 0 is read from the debit's own statement).
//   - The ledger outlives a deleted workspace: its rows have no foreign key, so the platform's
//     sums still balance after a deletion.
//
// Alerts: the owner sets a low-balance threshold (authz.BillingManage; kept on the available
// row, 0 = off). A debit of available returns the row after it in the same statement; the
// balance before is that plus the amount, so a crossing is known without any state: credits.low
// is published when the balance goes from at or above the threshold to below it, and
// credits.depleted when it goes from above zero to zero, in the transaction of that debit, with
// one mail to the owner(s). Once per crossing: later debits below the threshold do not cross
// again; a credit that lifts the balance back re-arms it by itself. Setting a threshold above the
// current balance does not alert by itself.
//
// Authorisation: balances and the ledger are read with authz.BillingView (every role, API keys
// with usage:read). Minting credits — grants — and holds and debits are for trusted callers only:
// the system principal (the operator's CLI and API, the call runtime in process, jobs). An owner
// manages billing settings and may move credits between workspaces they own, but never mints
// credits. Welcome credits are granted by workspace creation
// itself, inside its transaction (GrantWelcomeTx).
//
// Audit and events: grants write an audit entry (credits.granted) and publish credits.added in the
// transaction of the transfer; a transfer between workspaces writes credits.transferred_out and
// credits.transferred_in (one in each workspace) and publishes credits.added in the target. Holds and debits are machine movements: the ledger itself is
// their record (each transfer names its actor), so they add no audit entry.
package billing
