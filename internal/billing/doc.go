// Package billing owns the credit ledger of each workspace: a double-entry, append-only record of
// every movement of credits, with two-phase holds for calls in progress.
//
// Accounts. Every workspace has four accounts, identified by (workspace ID, kind):
//   - available: credits the workspace may spend;
//   - held: credits reserved by live holds (a call in progress);
//   - grants: the platform's source of the credits granted to the workspace (welcome credits,
//     operator grants, later payments); its balance is minus everything ever granted;
//   - revenue: the platform's account of the credits the workspace has spent.
//
// grants and revenue are the platform's accounts, kept as one sub-account per workspace (as
// formance's @platform:revenue:ws_…): the platform's total is their sum, and no single platform
// row is written by every transfer of every workspace (on PostgreSQL it would serialise them all).
// So every store method, platform accounts included, takes the workspace ID and filters on it.
// The exceptions are operator-wide reads: Verify (which sums the whole ledger) and the expiry
// sweep (which finds due holds in every workspace, then expires each through its workspace).
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
//   - The ledger outlives a deleted workspace: its rows have no foreign key, so the platform's
//     sums still balance after a deletion.
//
// Authorisation: balances and the ledger are read with authz.BillingView (every role, API keys
// with usage:read). Moving credits — grants, holds, debits — is for trusted callers only: the
// system principal (the operator's CLI, the call runtime in process, jobs). An owner manages
// billing settings but never mints credits. Welcome credits are granted by workspace creation
// itself, inside its transaction (GrantWelcomeTx).
//
// Audit and events: grants write an audit entry (credits.granted) and publish credits.added in the
// transaction of the transfer. Holds and debits are machine movements: the ledger itself is
// their record (each transfer names its actor), so they add no audit entry.
package billing
