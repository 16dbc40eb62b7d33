// Package campaign owns campaigns — an agent calling the members of a contact list — and their
// dialer.
//
// Rules and invariants:
//   - A campaign is draft → scheduled → running ⇄ paused → completed, or canceled from any state
//     that has not ended. Every change of state is one compare-and-set UPDATE (status IN (…)), so
//     two requests racing cannot both win. Settings change only in draft and paused; the audience
//     only in draft (409 audience_locked); other states are 409 campaign_state.
//   - Starting copies the list's members (through contact.Service, as the platform) into
//     campaign_contacts with their time zone and resolved prompt variables, in the transaction
//     that moves the campaign to running. Later list changes do not affect it.
//   - The dialer is a chain of River jobs (TickArgs) per running or scheduled campaign. A link
//     carries a generation; it inserts its successor in the transaction that advances the
//     campaign's tick_gen from its own generation, so a campaign has one live chain whatever the
//     number of replicas. Start, resume and schedule begin a new generation (the old chain ends at
//     its next look); the periodic watchdog begins one for a campaign whose chain has not moved for
//     two minutes (its job died with a killed process).
//   - Exactly once: a call is placed with call.Service.Place, whose one transaction also (InTx)
//     takes the campaign's place — a conditional UPDATE that holds only while the campaign is
//     running, has fewer than maxConcurrentCalls live calls and its pacer (GCRA on pace_tat, real
//     time) has room —, moves the contact from attempt n-1 to n (compare and set on its attempts
//     and status pending) and writes the attempt, unique on (campaign, contact, attempt). If any
//     of it fails, none of it — call, hold, slot, dial job — happened. Dialers racing (replicas, a
//     retried job) therefore never dial one attempt twice and never exceed the limit by one.
//   - The end of a campaign's call (call.Service.OnEnd, in the call's end transaction, once)
//     records the attempt's outcome, duration and cost, returns the campaign's place, makes the
//     contact pending again after the retry delay when the policy retries the outcome and attempts
//     remain, otherwise done; trips the circuit breaker; and completes the campaign when no
//     contact is left.
//   - Refusals at dial time: do_not_call → the attempt is recorded with outcome do_not_call and
//     the contact is done (never retried); 402 → the campaign pauses (insufficient_credits); 429
//     (the workspace's lines) → the round stops and tries again shortly; agent_not_active → pause;
//     a contact that is gone or cannot be called → outcome invalid, done. A PostgreSQL deadlock or
//     serialization failure rolls everything back and is tried again.
//   - Calling windows are evaluated per contact, in the contact's IANA zone, else the workspace's:
//     the dialer picks due contacts only in zones whose local time is in the window (InWindow).
//   - Circuit breaker: when at least 80 % of the last 20 ended calls failed at the carrier, the
//     campaign pauses with reason carrier_failures.
//   - Events (same transaction): campaign.started, campaign.paused (with pauseReason),
//     campaign.resumed, campaign.completed. Every change writes an audit entry (campaign.created,
//     .updated, .deleted, .started, .scheduled, .paused, .resumed, .canceled, .completed) with the
//     names of the fields that changed.
//   - Tenancy: every store method takes the workspace ID and filters on it (but the watchdog's
//     operator-wide read of stalled campaigns); another workspace's campaign is 404.
//   - Permissions: reads are authz.CampaignsRead (every role; campaigns:read), changes
//     authz.CampaignsWrite (owner, admin; campaigns:write). The dialer acts as the platform.
package campaign
