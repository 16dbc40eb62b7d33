package contact

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
)

// ErrDoNotCall is what IsCallable answers for a number on the do-not-call list (409 do_not_call).
var ErrDoNotCall = apierr.New(apierr.Conflict, "do_not_call", "the number is on the workspace's do-not-call list")

// Service is the contacts service.
type Service struct {
	db  *db.DB
	st  store
	now func() time.Time
	imp importConfig
}

// NewService builds the service; now is the clock (time.Now in production).
func NewService(d *db.DB, now func() time.Time, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{db: d, now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }, imp: importConfig{batch: DefaultImportBatch}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// CreateInput is what creating a contact takes. Phone is required; the rest is optional.
type CreateInput struct {
	Phone      string
	Name       string
	Email      string
	Timezone   string
	Attributes map[string]any
	Tags       []string
	DoNotCall  bool
}

// Patch changes a contact: nil leaves a field as it is.
type Patch struct {
	Phone *string
	Name  *string
	Email *string
	// Timezone "" derives it from the number again.
	Timezone *string
	// Attributes is merged: a value sets, nil removes.
	Attributes map[string]any
	// Tags, when not nil, replaces the tags.
	Tags      []string
	DoNotCall *bool
}

func phoneError(loc, raw string, err error) error {
	var pe *PhoneError
	if errors.As(err, &pe) {
		return apierr.Validation(apierr.FieldError{Location: loc, Message: pe.Reason, Value: raw})
	}
	return err
}

// reservedAttributes are the export's own columns: an attribute may not shadow them.
var reservedAttributes = []string{"id", "phone", "name", "email", "timezone", "tags", "donotcall", "createdat", "updatedat"}

func checkReserved(attrs map[string]any) error {
	for k := range attrs {
		if slices.Contains(reservedAttributes, strings.ToLower(k)) {
			return apierr.Validation(apierr.FieldError{Location: "body.attributes." + k, Message: "this name is a contact field; choose another attribute name", Value: k})
		}
	}
	return nil
}

// Create adds a contact to the workspace (owner, admin; contacts:write). The phone is
// normalised to E.164 (national numbers in the workspace's defaultRegion); the time zone, when
// not given, is derived from the number when it has exactly one. doNotCall puts the number on
// the workspace's do-not-call list. Errors: NotFound, Forbidden, Invalid (with the phone's
// reason), Conflict contact_exists.
func (s *Service) Create(ctx context.Context, wsID string, in CreateInput) (Contact, error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsWrite)
	if err != nil {
		return Contact{}, err
	}
	prefs, err := s.st.prefs(ctx, s.db.Read, wsID)
	if err != nil {
		return Contact{}, err
	}
	c, err := newContact(prefs.Region, in)
	if err != nil {
		return Contact{}, err
	}
	now := s.now()
	c.ID, c.WorkspaceID, c.CreatedAt, c.UpdatedAt = id.New(id.Contact), wsID, now, now
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.insert(ctx, tx, c)
		if err != nil {
			return err
		}
		if !ok {
			return errContactExists
		}
		if in.DoNotCall {
			if err := s.addDNC(ctx, tx, p, wsID, c.Phone, "contact", now); err != nil {
				return err
			}
		}
		if c, err = s.st.get(ctx, tx, wsID, c.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, now, "contact.created", c, createdFields(in))
	})
	if err != nil {
		return Contact{}, err
	}
	return c, nil
}

func createdFields(in CreateInput) []string {
	f := []string{"phone"}
	for name, set := range map[string]bool{"name": in.Name != "", "email": in.Email != "", "timezone": in.Timezone != "",
		"attributes": len(in.Attributes) > 0, "tags": len(in.Tags) > 0, "doNotCall": in.DoNotCall} {
		if set {
			f = append(f, name)
		}
	}
	slices.Sort(f)
	return f
}

// record writes the audit entry (field names only, never values) and the event of a change to c.
func (s *Service) record(ctx context.Context, tx *sql.Tx, now time.Time, action string, c Contact, changes []string) error {
	if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: c.WorkspaceID, Action: action, ResourceType: "contact", ResourceID: c.ID, Changes: changes}); err != nil {
		return err
	}
	_, err := events.Publish(ctx, tx, events.Event{WorkspaceID: c.WorkspaceID, Type: action, Data: c, CreatedAt: now})
	return err
}

// viewer says whether the principal sees numbers masked in the workspace: members do when the
// workspace's privacy.maskPhoneNumbersForMembers is on. Owners, admins and API keys (which only
// owners and admins create) see them whole.
func (s *Service) viewer(ctx context.Context, p *authz.Principal, wsID string) (bool, error) {
	role, ok, err := p.Role(ctx, wsID)
	if err != nil || !ok || role != authz.Member {
		return false, err
	}
	prefs, err := s.st.prefs(ctx, s.db.Read, wsID)
	return prefs.Mask, err
}

func maskContact(c Contact) Contact {
	c.Phone = Mask(c.Phone)
	return c
}

// Get returns one of the workspace's contacts (every role; contacts:read). Errors: NotFound
// (also for another workspace's contact), Forbidden.
func (s *Service) Get(ctx context.Context, wsID, contactID string) (Contact, error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsRead)
	if err != nil {
		return Contact{}, err
	}
	c, err := s.st.get(ctx, s.db.Read, wsID, contactID)
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, apierr.NotFoundf("contact")
	}
	if err != nil {
		return Contact{}, err
	}
	if masked, err := s.viewer(ctx, p, wsID); err != nil {
		return Contact{}, err
	} else if masked {
		c = maskContact(c)
	}
	return c, nil
}

var prefixPattern = regexp.MustCompile(`^\+?[0-9]{1,15}$`)

// checkFilter validates f and puts it in its stored form.
func checkFilter(masked bool, f Filter) (Filter, error) {
	if f.PhonePrefix != "" {
		pp := strings.NewReplacer(" ", "", "-", "", "(", "", ")", "").Replace(f.PhonePrefix)
		if !prefixPattern.MatchString(pp) {
			return Filter{}, apierr.Validation(apierr.FieldError{Location: "query.phone", Message: "a phone prefix is + and digits (the start of an E.164 number)", Value: f.PhonePrefix})
		}
		if masked {
			return Filter{}, apierr.New(apierr.Forbidden, "phone_numbers_masked", "phone numbers are masked for members of this workspace: search by name, tag or attribute")
		}
		if !strings.HasPrefix(pp, "+") {
			pp = "+" + pp
		}
		f.PhonePrefix = pp
	}
	for _, a := range f.Attributes {
		if !attributeName.MatchString(a.Name) {
			return Filter{}, apierr.Validation(apierr.FieldError{Location: "query.attribute", Message: "name:value, where name is an attribute name", Value: a.Name + ":" + a.Value})
		}
	}
	return f, nil
}

// List returns the workspace's contacts that match f, newest first (every role;
// contacts:read). Errors: NotFound (also for a list of another workspace), Forbidden (a phone
// search by a member who sees numbers masked), Invalid.
func (s *Service) List(ctx context.Context, wsID string, f Filter, cursor string, limit int) (page.Page[Contact], error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsRead)
	if err != nil {
		return page.Page[Contact]{}, err
	}
	masked, err := s.viewer(ctx, p, wsID)
	if err != nil {
		return page.Page[Contact]{}, err
	}
	if f, err = s.prepare(ctx, wsID, masked, f); err != nil {
		return page.Page[Contact]{}, err
	}
	limit = page.Limit(limit)
	before, err := page.Decode(cursor)
	if err != nil {
		return page.Page[Contact]{}, err
	}
	rows, err := s.st.list(ctx, s.db.Read, wsID, f, before, limit+1)
	if err != nil {
		return page.Page[Contact]{}, err
	}
	if masked {
		for i := range rows {
			rows[i] = maskContact(rows[i])
		}
	}
	return page.Of(rows, limit, func(c Contact) string { return c.ID }), nil
}

// prepare checks f, including that its list is the workspace's (NotFound otherwise).
func (s *Service) prepare(ctx context.Context, wsID string, masked bool, f Filter) (Filter, error) {
	f, err := checkFilter(masked, f)
	if err != nil {
		return Filter{}, err
	}
	if f.ListID != "" {
		if _, err := s.st.getList(ctx, s.db.Read, wsID, f.ListID); errors.Is(err, sql.ErrNoRows) {
			return Filter{}, apierr.NotFoundf("contact list")
		} else if err != nil {
			return Filter{}, err
		}
	}
	return f, nil
}

// Update applies p to the workspace's contact (owner, admin; contacts:write). Changing the
// number never makes a contact callable: when the old number was on the do-not-call list, the
// new one is added too (unless p says doNotCall false). Errors: NotFound, Forbidden, Invalid,
// Conflict contact_exists.
func (s *Service) Update(ctx context.Context, wsID, contactID string, in Patch) (Contact, error) {
	pr, err := authz.Require(ctx, wsID, authz.ContactsWrite)
	if err != nil {
		return Contact{}, err
	}
	prefs, err := s.st.prefs(ctx, s.db.Read, wsID)
	if err != nil {
		return Contact{}, err
	}
	var phone, name, email, tz string
	if in.Phone != nil {
		if phone, err = NormalizePhone(*in.Phone, prefs.Region); err != nil {
			return Contact{}, phoneError("body.phone", *in.Phone, err)
		}
	}
	if in.Name != nil {
		if name, err = validName("body.name", *in.Name); err != nil {
			return Contact{}, err
		}
	}
	if in.Email != nil {
		if email, err = validEmail(*in.Email); err != nil {
			return Contact{}, err
		}
	}
	if in.Timezone != nil {
		if tz, err = validTimezone(*in.Timezone); err != nil {
			return Contact{}, err
		}
	}
	var tags []string
	if in.Tags != nil {
		if tags, err = validTags("body.tags", in.Tags); err != nil {
			return Contact{}, err
		}
	}
	now := s.now()
	var out Contact
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var changes []string
		c, err := s.st.get(ctx, tx, wsID, contactID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("contact")
		}
		if err != nil {
			return err
		}
		oldPhone, wasDNC := c.Phone, c.DoNotCall
		if in.Phone != nil && phone != c.Phone {
			other, err := s.st.idByPhone(ctx, tx, wsID, phone)
			if err != nil {
				return err
			}
			if other != "" {
				return errContactExists
			}
			c.Phone = phone
			changes = append(changes, "phone")
			if in.Timezone == nil && c.Timezone == TimezoneOf(oldPhone) {
				// The zone came from the old number: follow the new one.
				c.Timezone = TimezoneOf(phone)
			}
		}
		if in.Name != nil && name != c.Name {
			c.Name = name
			changes = append(changes, "name")
		}
		if in.Email != nil && email != c.Email {
			c.Email = email
			changes = append(changes, "email")
		}
		if in.Timezone != nil {
			if tz == "" {
				tz = TimezoneOf(c.Phone)
			}
			if tz != c.Timezone {
				c.Timezone = tz
				changes = append(changes, "timezone")
			}
		}
		if in.Attributes != nil {
			attrs, err := mergeAttributes(c.Attributes, in.Attributes, true)
			if err != nil {
				return err
			}
			if err := checkReserved(in.Attributes); err != nil {
				return err
			}
			if !maps.EqualFunc(attrs, c.Attributes, func(a, b any) bool { return a == b }) {
				c.Attributes = attrs
				changes = append(changes, "attributes")
			}
		}
		if in.Tags != nil && !slices.Equal(tags, c.Tags) {
			c.Tags = tags
			changes = append(changes, "tags")
		}
		// Listed after the change: as asked, or as before (a new number inherits the old one's
		// listing; a number already listed stays listed unless doNotCall false says otherwise).
		dnc := wasDNC
		if in.DoNotCall != nil {
			dnc = *in.DoNotCall
		}
		if len(changes) > 0 {
			c.UpdatedAt = now
			if _, err := s.st.update(ctx, tx, c); err != nil {
				if db.IsUniqueViolation(err, phoneKey) {
					// Another transaction took the number after our check (PostgreSQL).
					return errContactExists
				}
				return err
			}
		}
		listed, err := s.isListed(ctx, tx, wsID, c.Phone)
		if err != nil {
			return err
		}
		switch {
		case dnc && !listed:
			if err := s.addDNC(ctx, tx, pr, wsID, c.Phone, "contact", now); err != nil {
				return err
			}
		case !dnc && listed && in.DoNotCall != nil:
			if err := s.removeDNC(ctx, tx, wsID, c.Phone, now); err != nil {
				return err
			}
		}
		if out, err = s.st.get(ctx, tx, wsID, contactID); err != nil {
			return err
		}
		if out.DoNotCall != wasDNC {
			changes = append(changes, "doNotCall")
		}
		if len(changes) == 0 {
			return nil
		}
		slices.Sort(changes)
		return s.record(ctx, tx, now, "contact.updated", out, changes)
	})
	if err != nil {
		return Contact{}, err
	}
	return out, nil
}

// Delete removes the workspace's contact, with its tags, attributes and list memberships
// (owner, admin; contacts:write). Its number stays on the do-not-call list if it is there: the
// list is of numbers. Errors: NotFound, Forbidden.
func (s *Service) Delete(ctx context.Context, wsID, contactID string) error {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		c, err := s.st.get(ctx, tx, wsID, contactID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("contact")
		}
		if err != nil {
			return err
		}
		if _, err := s.st.delete(ctx, tx, wsID, contactID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "contact.deleted", ResourceType: "contact", ResourceID: c.ID}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "contact.deleted", Data: map[string]any{"id": c.ID}, CreatedAt: now})
		return err
	})
}

// ---- Do-not-call.

func (s *Service) isListed(ctx context.Context, q db.Querier, wsID, phone string) (bool, error) {
	_, err := s.st.getDNC(ctx, q, wsID, phone)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// addDNC lists the number (if it is not yet) and records it.
func (s *Service) addDNC(ctx context.Context, tx *sql.Tx, p *authz.Principal, wsID, phone, reason string, now time.Time) error {
	e := DNCEntry{ID: id.New(id.DNC), WorkspaceID: wsID, Phone: phone, Reason: reason, CreatedBy: p.ActorID(), CreatedAt: now}
	ok, err := s.st.addDNC(ctx, tx, e)
	if err != nil || !ok {
		return err
	}
	if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "dnc.added", ResourceType: "dnc", ResourceID: e.ID, Changes: []string{"phone", "reason"}}); err != nil {
		return err
	}
	_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "dnc.added", Data: e, CreatedAt: now})
	return err
}

// removeDNC unlists the number (NotFound when it is not listed) and records it.
func (s *Service) removeDNC(ctx context.Context, tx *sql.Tx, wsID, phone string, now time.Time) error {
	e, err := s.st.getDNC(ctx, tx, wsID, phone)
	if errors.Is(err, sql.ErrNoRows) {
		return apierr.NotFoundf("do-not-call entry")
	}
	if err != nil {
		return err
	}
	if _, err := s.st.removeDNC(ctx, tx, wsID, phone); err != nil {
		return err
	}
	if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "dnc.removed", ResourceType: "dnc", ResourceID: e.ID, Changes: []string{"phone"}}); err != nil {
		return err
	}
	_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "dnc.removed", Data: e, CreatedAt: now})
	return err
}

// AddDNC puts a number on the workspace's do-not-call list (owner, admin; contacts:write).
// created is false when it was already there (the entry is then the existing one, unchanged).
// Errors: NotFound, Forbidden, Invalid (the phone's reason).
func (s *Service) AddDNC(ctx context.Context, wsID, phone, reason string) (e DNCEntry, created bool, err error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsWrite)
	if err != nil {
		return DNCEntry{}, false, err
	}
	prefs, err := s.st.prefs(ctx, s.db.Read, wsID)
	if err != nil {
		return DNCEntry{}, false, err
	}
	e164, err := NormalizePhone(phone, prefs.Region)
	if err != nil {
		return DNCEntry{}, false, phoneError("body.phone", phone, err)
	}
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) > MaxReasonLen {
		return DNCEntry{}, false, apierr.Validation(apierr.FieldError{Location: "body.reason", Message: fmt.Sprintf("at most %d characters", MaxReasonLen)})
	}
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		listed, err := s.isListed(ctx, tx, wsID, e164)
		if err != nil {
			return err
		}
		if !listed {
			if err := s.addDNC(ctx, tx, p, wsID, e164, reason, now); err != nil {
				return err
			}
		}
		created = !listed
		e, err = s.st.getDNC(ctx, tx, wsID, e164)
		return err
	})
	return e, created, err
}

// RemoveDNC takes a number off the workspace's do-not-call list (owner, admin;
// contacts:write). Errors: NotFound (not listed), Forbidden, Invalid.
func (s *Service) RemoveDNC(ctx context.Context, wsID, phone string) error {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return err
	}
	prefs, err := s.st.prefs(ctx, s.db.Read, wsID)
	if err != nil {
		return err
	}
	e164, err := NormalizePhone(phone, prefs.Region)
	if err != nil {
		return phoneError("path.phone", phone, err)
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error { return s.removeDNC(ctx, tx, wsID, e164, now) })
}

// ListDNC returns the workspace's do-not-call list, newest first (every role; contacts:read;
// numbers masked for members when the workspace masks them). Errors: NotFound, Forbidden,
// Invalid (cursor).
func (s *Service) ListDNC(ctx context.Context, wsID, cursor string, limit int) (page.Page[DNCEntry], error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsRead)
	if err != nil {
		return page.Page[DNCEntry]{}, err
	}
	masked, err := s.viewer(ctx, p, wsID)
	if err != nil {
		return page.Page[DNCEntry]{}, err
	}
	limit = page.Limit(limit)
	before, err := page.Decode(cursor)
	if err != nil {
		return page.Page[DNCEntry]{}, err
	}
	rows, err := s.st.dncList(ctx, s.db.Read, wsID, before, limit+1)
	if err != nil {
		return page.Page[DNCEntry]{}, err
	}
	if masked {
		for i := range rows {
			rows[i].Phone = Mask(rows[i].Phone)
		}
	}
	return page.Of(rows, limit, func(e DNCEntry) string { return e.ID }), nil
}

// IsCallable answers nil when Parley may dial the number (E.164) for the workspace, and
// ErrDoNotCall (409 do_not_call) when the number is on its do-not-call list (a contact's
// doNotCall is that very list). It is for the capabilities that dial (calls, campaigns), which
// authorise their own action first: it requires only a principal of the workspace
// (authz.WorkspaceView, which every role and key has). Errors: NotFound, Invalid (not E.164),
// Conflict do_not_call.
func (s *Service) IsCallable(ctx context.Context, wsID, e164 string) error {
	if _, err := authz.Require(ctx, wsID, authz.WorkspaceView); err != nil {
		return err
	}
	return s.IsCallableTx(ctx, s.db.Read, wsID, e164)
}

// IsCallableTx is IsCallable inside the caller's transaction (q), for a dial decided in the
// same transaction as its record; the caller has authorised the action.
func (s *Service) IsCallableTx(ctx context.Context, q db.Querier, wsID, e164 string) error {
	n, err := NormalizePhone(e164, "")
	if err != nil || n != e164 {
		return apierr.Validation(apierr.FieldError{Message: "not an E.164 number", Value: e164})
	}
	listed, err := s.isListed(ctx, q, wsID, e164)
	if err != nil {
		return err
	}
	if listed {
		return ErrDoNotCall
	}
	return nil
}
