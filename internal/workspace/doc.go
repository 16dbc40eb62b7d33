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
package workspace
