package contact

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of contacts, lists and the do-not-call list. Every method takes the
// workspace ID and filters on it.
type store struct{}

const contactCols = `c.id, c.workspace_id, c.phone, c.name, c.email, c.timezone, c.attributes, c.tags, c.created_at, c.updated_at,
CASE WHEN d.phone IS NULL THEN 0 ELSE 1 END`

// contactFrom joins each contact with its number's do-not-call entry.
const contactFrom = ` FROM contacts c LEFT JOIN dnc_numbers d ON d.workspace_id = c.workspace_id AND d.phone = c.phone`

func scanContact(sc interface{ Scan(...any) error }) (Contact, error) {
	var c Contact
	var attrs, tags string
	var dnc int
	if err := sc.Scan(&c.ID, &c.WorkspaceID, &c.Phone, &c.Name, &c.Email, &c.Timezone, &attrs, &tags,
		(*db.Time)(&c.CreatedAt), (*db.Time)(&c.UpdatedAt), &dnc); err != nil {
		return Contact{}, err
	}
	if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
		return Contact{}, fmt.Errorf("contact %s: attributes: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return Contact{}, fmt.Errorf("contact %s: tags: %w", c.ID, err)
	}
	c.DoNotCall = dnc == 1
	return c, nil
}

func encode(c Contact) (attrs, tags string, err error) {
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	a, err := json.Marshal(c.Attributes)
	if err != nil {
		return "", "", err
	}
	t, err := json.Marshal(c.Tags)
	return string(a), string(t), err
}

// insert adds the contact; ok is false (and nothing is written) when the workspace already has a
// contact with its phone.
func (st store) insert(ctx context.Context, q db.Querier, c Contact) (bool, error) {
	attrs, tags, err := encode(c)
	if err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `INSERT INTO contacts (id, workspace_id, phone, name, name_lower, email, timezone, attributes, tags, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (workspace_id, phone) DO NOTHING`,
		c.ID, c.WorkspaceID, c.Phone, c.Name, strings.ToLower(c.Name), c.Email, c.Timezone, attrs, tags, db.Time(c.CreatedAt), db.Time(c.UpdatedAt))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	return true, st.index(ctx, q, c)
}

// update writes every field of the workspace's contact; ok is false when it does not exist there.
func (st store) update(ctx context.Context, q db.Querier, c Contact) (bool, error) {
	attrs, tags, err := encode(c)
	if err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `UPDATE contacts SET phone = $3, name = $4, name_lower = $5, email = $6, timezone = $7, attributes = $8, tags = $9, updated_at = $10
WHERE workspace_id = $1 AND id = $2`,
		c.WorkspaceID, c.ID, c.Phone, c.Name, strings.ToLower(c.Name), c.Email, c.Timezone, attrs, tags, db.Time(c.UpdatedAt))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	return true, st.index(ctx, q, c)
}

// index rewrites the search rows (tags, attributes) of the workspace's contact.
func (store) index(ctx context.Context, q db.Querier, c Contact) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM contact_tags WHERE workspace_id = $1 AND contact_id = $2`, c.WorkspaceID, c.ID); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM contact_attributes WHERE workspace_id = $1 AND contact_id = $2`, c.WorkspaceID, c.ID); err != nil {
		return err
	}
	for _, t := range c.Tags {
		if _, err := q.ExecContext(ctx, `INSERT INTO contact_tags (workspace_id, contact_id, tag) VALUES ($1, $2, $3)`, c.WorkspaceID, c.ID, t); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Attributes)) {
		if _, err := q.ExecContext(ctx, `INSERT INTO contact_attributes (workspace_id, contact_id, name, value_text) VALUES ($1, $2, $3, $4)`,
			c.WorkspaceID, c.ID, k, valueText(c.Attributes[k])); err != nil {
			return err
		}
	}
	return nil
}

// get returns the workspace's contact; sql.ErrNoRows when there is none (or it is another's).
func (store) get(ctx context.Context, q db.Querier, wsID, contactID string) (Contact, error) {
	return scanContact(q.QueryRowContext(ctx, `SELECT `+contactCols+contactFrom+` WHERE c.workspace_id = $1 AND c.id = $2`, wsID, contactID))
}

// idByPhone returns the ID of the workspace's contact with the number ("" when none).
func (store) idByPhone(ctx context.Context, q db.Querier, wsID, phone string) (string, error) {
	var cid string
	err := q.QueryRowContext(ctx, `SELECT id FROM contacts WHERE workspace_id = $1 AND phone = $2`, wsID, phone).Scan(&cid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return cid, err
}

// delete removes the workspace's contact (its tags, attributes and list memberships go with it);
// ok is false when it does not exist there.
func (store) delete(ctx context.Context, q db.Querier, wsID, contactID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM contacts WHERE workspace_id = $1 AND id = $2`, wsID, contactID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// AttributeEq is one attribute-equality condition of a search.
type AttributeEq struct{ Name, Value string }

// Filter selects contacts; every condition given must hold.
type Filter struct {
	// PhonePrefix is the start of the E.164 number ("+9198").
	PhonePrefix string
	// Name is a substring of the name, any case.
	Name string
	// Tags: the contact has every one of them.
	Tags []string
	// Attributes: each attribute equals the value (compared as text: "3", "true", "gold").
	Attributes []AttributeEq
	// ListID: the contact is a member of the list.
	ListID string
	// DoNotCall, when not nil: whether the number is on the do-not-call list.
	DoNotCall *bool
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// where builds the WHERE clause of f in wsID ($1), with IDs below beforeID.
func (f Filter) where(wsID, beforeID string) (string, []any) {
	args := []any{wsID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	conds := []string{"c.workspace_id = $1"}
	if f.PhonePrefix != "" {
		// A range rather than LIKE, so the (workspace_id, phone) index serves it on both dialects:
		// ':' is the character after '9'.
		conds = append(conds, "c.phone >= "+arg(f.PhonePrefix)+" AND c.phone < "+arg(f.PhonePrefix+":"))
	}
	if f.Name != "" {
		conds = append(conds, "c.name_lower LIKE "+arg("%"+likeEscaper.Replace(strings.ToLower(f.Name))+"%")+` ESCAPE '\'`)
	}
	for _, t := range f.Tags {
		conds = append(conds, "EXISTS (SELECT 1 FROM contact_tags t WHERE t.workspace_id = $1 AND t.tag = "+arg(t)+" AND t.contact_id = c.id)")
	}
	for _, a := range f.Attributes {
		conds = append(conds, "EXISTS (SELECT 1 FROM contact_attributes a WHERE a.workspace_id = $1 AND a.name = "+arg(a.Name)+
			" AND a.value_text = "+arg(a.Value)+" AND a.contact_id = c.id)")
	}
	if f.ListID != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM contact_list_members m WHERE m.workspace_id = $1 AND m.list_id = "+arg(f.ListID)+" AND m.contact_id = c.id)")
	}
	if f.DoNotCall != nil {
		if *f.DoNotCall {
			conds = append(conds, "d.phone IS NOT NULL")
		} else {
			conds = append(conds, "d.phone IS NULL")
		}
	}
	if beforeID != "" {
		conds = append(conds, "c.id < "+arg(beforeID))
	}
	return strings.Join(conds, " AND "), args
}

// list returns the workspace's contacts that match f, newest first, with IDs below beforeID.
func (store) list(ctx context.Context, q db.Querier, wsID string, f Filter, beforeID string, limit int) ([]Contact, error) {
	where, args := f.where(wsID, beforeID)
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, `SELECT `+contactCols+contactFrom+` WHERE `+where+` ORDER BY c.id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// attributeNames returns the names of every attribute any of the workspace's contacts has, sorted.
func (store) attributeNames(ctx context.Context, q db.Querier, wsID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT name FROM contact_attributes WHERE workspace_id = $1 ORDER BY name`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ---- Lists.

const listCols = `l.id, l.workspace_id, l.name, l.created_at, l.updated_at,
(SELECT COUNT(*) FROM contact_list_members m WHERE m.workspace_id = l.workspace_id AND m.list_id = l.id)`

func scanList(sc interface{ Scan(...any) error }) (List, error) {
	var l List
	err := sc.Scan(&l.ID, &l.WorkspaceID, &l.Name, (*db.Time)(&l.CreatedAt), (*db.Time)(&l.UpdatedAt), &l.Size)
	return l, err
}

// insertList adds the list; ok is false when the workspace has a list of that name.
func (store) insertList(ctx context.Context, q db.Querier, l List) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO contact_lists (id, workspace_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (workspace_id, name) DO NOTHING`, l.ID, l.WorkspaceID, l.Name, db.Time(l.CreatedAt), db.Time(l.UpdatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// getList returns the workspace's list; sql.ErrNoRows when there is none.
func (store) getList(ctx context.Context, q db.Querier, wsID, listID string) (List, error) {
	return scanList(q.QueryRowContext(ctx, `SELECT `+listCols+` FROM contact_lists l WHERE l.workspace_id = $1 AND l.id = $2`, wsID, listID))
}

// listIDByName returns the ID of the workspace's list of that name ("" when none).
func (store) listIDByName(ctx context.Context, q db.Querier, wsID, name string) (string, error) {
	var lid string
	err := q.QueryRowContext(ctx, `SELECT id FROM contact_lists WHERE workspace_id = $1 AND name = $2`, wsID, name).Scan(&lid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return lid, err
}

// lists returns the workspace's lists, newest first, with IDs below beforeID.
func (store) lists(ctx context.Context, q db.Querier, wsID, beforeID string, limit int) ([]List, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+listCols+` FROM contact_lists l
WHERE l.workspace_id = $1 AND ($2 = '' OR l.id < $2) ORDER BY l.id DESC LIMIT $3`, wsID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []List
	for rows.Next() {
		l, err := scanList(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// renameList renames the workspace's list; ok is false when it does not exist there.
func (store) renameList(ctx context.Context, q db.Querier, wsID, listID, name string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE contact_lists SET name = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2`, wsID, listID, name, db.Time(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// deleteList removes the workspace's list and its memberships (not the contacts).
func (store) deleteList(ctx context.Context, q db.Querier, wsID, listID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM contact_lists WHERE workspace_id = $1 AND id = $2`, wsID, listID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// contactExists reports whether the workspace has the contact.
func (store) contactExists(ctx context.Context, q db.Querier, wsID, contactID string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM contacts WHERE workspace_id = $1 AND id = $2`, wsID, contactID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// addMember puts the workspace's contact in the workspace's list; ok is false when it was
// already there (or either is not the workspace's).
func (store) addMember(ctx context.Context, q db.Querier, wsID, listID, contactID string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO contact_list_members (workspace_id, list_id, contact_id, added_at)
SELECT c.workspace_id, l.id, c.id, CAST($4 AS BIGINT) FROM contacts c JOIN contact_lists l ON l.workspace_id = c.workspace_id AND l.id = $2
WHERE c.workspace_id = $1 AND c.id = $3
ON CONFLICT (list_id, contact_id) DO NOTHING`, wsID, listID, contactID, db.Time(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// removeMember takes the contact out of the workspace's list; ok is false when it was not in it.
func (store) removeMember(ctx context.Context, q db.Querier, wsID, listID, contactID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM contact_list_members WHERE workspace_id = $1 AND list_id = $2 AND contact_id = $3`, wsID, listID, contactID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ---- Do-not-call.

const dncCols = `id, workspace_id, phone, reason, created_by, created_at`

func scanDNC(sc interface{ Scan(...any) error }) (DNCEntry, error) {
	var e DNCEntry
	err := sc.Scan(&e.ID, &e.WorkspaceID, &e.Phone, &e.Reason, &e.CreatedBy, (*db.Time)(&e.CreatedAt))
	return e, err
}

// addDNC puts the number on the workspace's list; ok is false when it was already there.
func (store) addDNC(ctx context.Context, q db.Querier, e DNCEntry) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO dnc_numbers (id, workspace_id, phone, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (workspace_id, phone) DO NOTHING`, e.ID, e.WorkspaceID, e.Phone, e.Reason, e.CreatedBy, db.Time(e.CreatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// getDNC returns the workspace's entry for the number; sql.ErrNoRows when it is not listed.
func (store) getDNC(ctx context.Context, q db.Querier, wsID, phone string) (DNCEntry, error) {
	return scanDNC(q.QueryRowContext(ctx, `SELECT `+dncCols+` FROM dnc_numbers WHERE workspace_id = $1 AND phone = $2`, wsID, phone))
}

// removeDNC takes the number off the workspace's list; ok is false when it was not on it.
func (store) removeDNC(ctx context.Context, q db.Querier, wsID, phone string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM dnc_numbers WHERE workspace_id = $1 AND phone = $2`, wsID, phone)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// dncList returns the workspace's do-not-call entries, newest first, with IDs below beforeID.
func (store) dncList(ctx context.Context, q db.Querier, wsID, beforeID string, limit int) ([]DNCEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+dncCols+` FROM dnc_numbers
WHERE workspace_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, wsID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DNCEntry
	for rows.Next() {
		e, err := scanDNC(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ---- Workspace settings (read only; the agent package owns them).

// workspacePrefs are the workspace settings contacts follow.
type workspacePrefs struct {
	// Region is the default region of national numbers (ISO 3166-1 alpha-2).
	Region string
	// Mask: members see numbers masked.
	Mask bool
}

// prefs reads the workspace's defaultRegion and privacy.maskPhoneNumbersForMembers from its
// settings overrides (agent.Settings), falling back to the platform defaults.
func (store) prefs(ctx context.Context, q db.Querier, wsID string) (workspacePrefs, error) {
	def := agent.PlatformSettings()
	p := workspacePrefs{Region: *def.DefaultRegion, Mask: *def.Privacy.MaskPhoneNumbersForMembers}
	var doc string
	err := q.QueryRowContext(ctx, `SELECT settings FROM workspace_settings WHERE workspace_id = $1`, wsID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return workspacePrefs{}, err
	}
	var s agent.Settings
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		return workspacePrefs{}, fmt.Errorf("workspace %s settings: %w", wsID, err)
	}
	if s.DefaultRegion != nil && *s.DefaultRegion != "" {
		p.Region = *s.DefaultRegion
	}
	if s.Privacy != nil && s.Privacy.MaskPhoneNumbersForMembers != nil {
		p.Mask = *s.Privacy.MaskPhoneNumbersForMembers
	}
	return p, nil
}

// phoneKey is the unique index on (workspace_id, phone).
const phoneKey = "contacts_workspace_phone_key"

// errContactExists answers a second contact with a number the workspace already has.
var errContactExists = apierr.New(apierr.Conflict, "contact_exists", "the workspace already has a contact with this phone number")
