// Package workspace owns workspaces — the isolated tenants that hold everything a team needs to
// run voice agents — and their memberships.
//
// Rules and invariants:
//   - A workspace's ID (ws_…) is generated once, never changes and is unique; its slug is unique
//     and derived from the name at creation.
//   - A workspace always has exactly one owner (a partial unique index enforces it).
//   - Whoever is not a member sees no workspace: every answer is 404, as if it did not exist.
//   - Deleting a workspace (owner only, confirming with its ID) removes all of its data in one
//     transaction; the deletion itself stays in the audit log.
//
// The team (docs/team-and-access.md):
//   - Roles are owner, admin and member; authz.Matrix decides who may do what. MembersView (every
//     member) lists the team; MembersManage (owner, admin) invites, removes and changes roles;
//     OwnershipTransfer (owner) hands the workspace over.
//   - Nobody becomes owner by a role change or an invitation; the owner's membership is out of an
//     admin's reach, and the owner cannot leave or be removed. The store's conditional writes
//     (role <> 'owner') hold these rules even against a stale check.
//   - A transfer demotes the owner to admin and then promotes the member, in one transaction.
//   - Roles are looked up on every request, so a removal or demotion takes effect on the
//     person's next request.
//   - An invitation offers admin or member to one email address. Its token is 32 random bytes
//     (base64url), stored only as SHA-256; it is mailed through the outbox in the invitation's
//     transaction, works for 7 days from its last sending and once. At most one pending
//     invitation per workspace and address (a partial unique index); a lapsed one is replaced.
//   - Accepting or declining needs the invited address (case-insensitive) on the signed-in
//     account, or signing up from the link (identity calls RedeemInvitation in the account's
//     transaction). An unknown, used, declined, revoked or expired token is one answer: Gone.
//   - Invitation emails are rate-limited per workspace in memory (per replica).
//   - Every store method takes the workspace ID, except the lookup of an invitation by the hash
//     of its token: the link names no workspace, so accept, decline and preview find the
//     invitation first and use its workspace ID from then on.
//   - The token-holder routes (preview, accept, decline) do not start with authz.Require: the
//     token is the credential, and accept/decline also need a signed-in person (CurrentUser).
//   - Every change is audited, and announced by an event where docs list one, in its transaction.
package workspace
