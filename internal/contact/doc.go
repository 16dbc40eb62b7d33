// Package contact owns a workspace's contacts — the people its agents call — with their static
// lists and the workspace's do-not-call (DNC) list.
//
// Rules and invariants:
//   - A contact's phone is stored in E.164, normalised with github.com/nyaruka/phonenumbers: a
//     number without a country code is read as a national number of the workspace's
//     defaultRegion setting (platform default US). What cannot be a number, impossible numbers
//     (too short, too long, unknown country code) and numbers not valid for their region are
//     refused: 422 validation_failed at body.phone, with the reason.
//   - A phone number is unique within a workspace (unique index on (workspace_id, phone)); a
//     second contact with it is 409 contact_exists, on create and on a change of number.
//   - timezone is an IANA name. When not given, it is derived from the number when the
//     numbering plan gives exactly one zone, and left empty otherwise. A zone that came from
//     the number follows a change of number; one set by hand stays.
//   - attributes are a flat JSON object (at most 50) of strings (≤ 1000 characters), finite
//     numbers and booleans, named like identifiers; they become prompt variables. Names equal
//     (in any case) to a contact field or export column are refused. A PATCH merges them: a
//     value sets, null removes. Tags are 1–50 characters, no comma, at most 50, stored
//     deduplicated and sorted.
//   - The do-not-call list is of numbers, whether or not a contact has them. A contact's
//     doNotCall is whether its number is on the list; setting it adds or removes the number.
//     Changing a listed contact's number lists the new number too (a change of number never
//     makes someone callable); deleting a contact leaves its number listed.
//   - IsCallable / IsCallableTx is the one check every dialling capability makes before a
//     call: a listed number is refused with 409 do_not_call (ErrDoNotCall).
//   - Masking: when the workspace's privacy.maskPhoneNumbersForMembers is on, members see every
//     number masked (+91 98*****210) in contacts, the DNC list and the export, and may not
//     search by phone prefix (403 phone_numbers_masked). Owners, admins and API keys (made by
//     owners and admins, for programs that dial) see numbers whole.
//   - Lists are static: named (unique per workspace), holding contacts of the same workspace.
//     Deleting a list keeps its contacts; deleting a contact takes it out of every list.
//   - Search (phone prefix, name substring, tags, attribute equality, list, doNotCall) and
//     every list are newest first by ID, with an opaque cursor (platform/page). The export
//     streams the same search as CSV in batches, so memory stays flat.
//   - CSV import (import*.go, jobs.go): the upload is streamed to a file in the import
//     directory and checked whole before 202 (UTF-8 header, CSV throughout, one phone column);
//     rows are then checked by the same rules as Create (newContact) in a River job, a batch per
//     transaction, and that transaction also moves the import's checkpoint (byte offset, line)
//     and adds its counts, guarded by the checkpoint it started from: a run cut short resumes
//     exactly there, so no row is written twice and processed = created + updated + skipped +
//     failed stays exact. onDuplicate skip (default) never changes an existing contact; update
//     sets the row's non-empty fields, merges attributes and adds tags. An import writes one
//     audit entry (contact_import.created) and one event when it ends
//     (contact_import.completed), not one per contact; it never touches the do-not-call list.
//   - Tenancy: every store method takes the workspace ID and filters on it; another
//     workspace's contact, list or entry is 404 not_found. A contact ID in a body that is not
//     the workspace's is 422 (the body is wrong; nothing in the path is hidden).
//   - Permissions: reads are authz.ContactsRead (every role; contacts:read), changes
//     authz.ContactsWrite (owner, admin; contacts:write).
//   - Every mutation writes an audit entry in its transaction, listing the names of the fields
//     that changed — never a phone number or any other value. Contacts publish contact.created,
//     contact.updated and contact.deleted events and the DNC list dnc.added and dnc.removed, in
//     the same transaction.
package contact
