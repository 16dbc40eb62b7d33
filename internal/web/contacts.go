package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

// Page sizes of the contacts pages; listsShown is how many lists the contact page offers.
const (
	contactsPerPage = 50
	listsPerPage    = 100
	dncPerPage      = 100
	listsShown      = 100
)

// contactFields are the contact form's fields, in the order errors are listed.
var contactFields = []string{"phone", "name", "email", "timezone", "tags", "attributes", "doNotCall"}

// contactSearch is the Contacts page's search, read from the query string.
type contactSearch struct {
	Name, Phone, Tag, Attribute string
}

// readSearch reads the search fields of the Contacts page.
func readSearch(r *http.Request) contactSearch {
	q := r.URL.Query()
	return contactSearch{
		Name: strings.TrimSpace(q.Get("name")), Phone: strings.TrimSpace(q.Get("phone")),
		Tag: strings.TrimSpace(q.Get("tag")), Attribute: strings.TrimSpace(q.Get("attribute")),
	}
}

// Active reports whether any filter is set.
func (s contactSearch) Active() bool { return s != contactSearch{} }

// attribute splits key=value (key:value is accepted too, as the API writes it).
func (s contactSearch) attribute() (name, value string, ok bool) {
	i := strings.IndexAny(s.Attribute, "=:")
	if i <= 0 {
		return "", "", false
	}
	return strings.TrimSpace(s.Attribute[:i]), strings.TrimSpace(s.Attribute[i+1:]), true
}

// filter is the service's filter for the search.
func (s contactSearch) filter() (contact.Filter, error) {
	f := contact.Filter{Name: s.Name, PhonePrefix: s.Phone}
	if s.Tag != "" {
		f.Tags = []string{s.Tag}
	}
	if s.Attribute != "" {
		name, value, ok := s.attribute()
		if !ok {
			return contact.Filter{}, apierr.Validation(apierr.FieldError{Location: "query.attribute", Message: "write an attribute search as name=value, for example plan=gold", Value: s.Attribute})
		}
		f.Attributes = []contact.AttributeEq{{Name: name, Value: value}}
	}
	return f, nil
}

// query is the search as a query string (without the cursor): the page's own parameters when
// api is false, the export route's when true.
func (s contactSearch) query(api bool) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("name", s.Name)
	set("phone", s.Phone)
	set("tag", s.Tag)
	if api {
		if name, value, ok := s.attribute(); ok {
			q.Set("attribute", name+":"+value)
		}
	} else {
		set("attribute", s.Attribute)
	}
	return q
}

// contactsPage is what the contacts template gets.
type contactsPage struct {
	Workspace workspace.Membership
	Search    contactSearch
	Contacts  []contact.Contact
	// NextCursor pages the list; Paged is true past the first page.
	NextCursor string
	Paged      bool
	CanEdit    bool
	// Problem is what was wrong with the search.
	Problem *form
}

// NewestURL is the first page of the search; OlderURL the next one; ExportURL the CSV of the
// whole search (the API route, which the session cookie authenticates).
func (p contactsPage) NewestURL() string { return p.url(p.Search.query(false)) }

func (p contactsPage) OlderURL() string {
	q := p.Search.query(false)
	q.Set("cursor", p.NextCursor)
	return p.url(q)
}

func (p contactsPage) url(q url.Values) string {
	u := "/w/" + url.PathEscape(p.Workspace.ID) + "/contacts"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (p contactsPage) ExportURL() string {
	u := "/v1/workspaces/" + url.PathEscape(p.Workspace.ID) + "/contacts/export.csv"
	if q := p.Search.query(true); len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// contacts lists the workspace's contacts that match the search, newest first.
func (h *Handler) contacts(w http.ResponseWriter, r *http.Request) {
	v, m, ok := h.workspaceView(w, r, "contacts")
	if !ok {
		return
	}
	s := readSearch(r)
	cursor := r.URL.Query().Get("cursor")
	p := contactsPage{Workspace: m, Search: s, Paged: cursor != "", CanEdit: can(m.Role, authz.ContactsWrite), Problem: newForm(nil, "name", "phone", "tag", "attribute")}
	f, err := s.filter()
	if err == nil {
		list, lerr := h.d.Contacts.List(r.Context(), m.ID, f, cursor, contactsPerPage)
		p.Contacts, p.NextCursor, err = list.Data, list.NextCursor, lerr
	}
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, p.NewestURL()) // a stale or mangled cursor: start over
			return
		}
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.NotFound) {
			h.fail(w, r, v, err)
			return
		}
		p.Problem.setError(e)
		v.Page = p
		h.render(w, r, status, "contacts", v)
		return
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "contacts", v)
}

// contactPage is what the contact template gets.
type contactPage struct {
	Workspace workspace.Membership
	// Contact is nil for the new-contact form.
	Contact *contact.Contact
	CanEdit bool
	// Attributes are the contact's attributes as name=value lines (read-only view).
	Attributes []string
	// Lists the contact is in (when the viewer sees numbers whole) and the lists it may be
	// added to.
	InLists    []contact.List
	OtherLists []contact.List
	// Memberships is false when the lists the contact is in cannot be shown.
	Memberships bool
	// ListProblem is what went wrong adding the contact to a list.
	ListProblem *form
}

// Action is where the form posts.
func (p contactPage) Action() string {
	if p.Contact == nil {
		return "/w/" + p.Workspace.ID + "/contacts"
	}
	return "/w/" + p.Workspace.ID + "/contacts/" + p.Contact.ID
}

// newContact shows the empty contact form (owner, admin).
func (h *Handler) newContact(w http.ResponseWriter, r *http.Request) {
	h.showContact(w, r, http.StatusOK, "", nil, nil)
}

// editContact shows a contact: the form (owner, admin) or its details (members).
func (h *Handler) editContact(w http.ResponseWriter, r *http.Request) {
	h.showContact(w, r, http.StatusOK, r.PathValue("contactId"), nil, nil)
}

// showContact renders contactID ("" for a new contact). After a failed save, f is the posted
// form with its errors; listProblem is a failed add-to-list.
func (h *Handler) showContact(w http.ResponseWriter, r *http.Request, status int, contactID string, f *form, listProblem *apierr.Error) {
	v, m, ok := h.workspaceView(w, r, "contacts")
	if !ok {
		return
	}
	ctx := r.Context()
	p := contactPage{Workspace: m, CanEdit: can(m.Role, authz.ContactsWrite), ListProblem: newForm(nil, "listId")}
	if contactID == "" && !p.CanEdit {
		h.fail(w, r, v, apierr.New(apierr.Forbidden, "forbidden", "only the workspace's owner and admins can add contacts."))
		return
	}
	if listProblem != nil {
		p.ListProblem.setError(listProblem)
	}
	if contactID != "" {
		c, err := h.d.Contacts.Get(ctx, m.ID, contactID)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		p.Contact = &c
		p.Attributes = strings.Split(attributesText(c.Attributes), "\n")
		if p.Attributes[0] == "" {
			p.Attributes = nil
		}
		if err := h.contactLists(r, m.ID, &p); err != nil {
			h.fail(w, r, v, err)
			return
		}
	}
	if f == nil {
		f = newForm(nil, contactFields...)
		if c := p.Contact; c != nil {
			f.Set("phone", c.Phone)
			f.Set("name", c.Name)
			f.Set("email", c.Email)
			f.Set("timezone", c.Timezone)
			f.Set("tags", strings.Join(c.Tags, ", "))
			f.Set("attributes", attributesText(c.Attributes))
			if c.DoNotCall {
				f.Set("doNotCall", "on")
			}
		}
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "contact", v)
}

// contactLists fills the lists the contact is in and the others. Which lists hold a contact is
// found by searching each list for the contact's number, so it is shown only to viewers who see
// numbers whole (for the others the service refuses a phone search).
func (h *Handler) contactLists(r *http.Request, wsID string, p *contactPage) error {
	ctx := r.Context()
	lists, err := h.d.Contacts.ListLists(ctx, wsID, "", listsShown)
	if err != nil {
		return err
	}
	p.Memberships = !strings.Contains(p.Contact.Phone, "*")
	for _, l := range lists.Data {
		in := false
		if p.Memberships {
			found, err := h.d.Contacts.List(ctx, wsID, contact.Filter{ListID: l.ID, PhonePrefix: p.Contact.Phone}, "", 10)
			if err != nil {
				if errors.Is(err, apierr.NotFound) {
					continue // deleted meanwhile
				}
				return err
			}
			in = slices.ContainsFunc(found.Data, func(c contact.Contact) bool { return c.ID == p.Contact.ID })
		}
		if in {
			p.InLists = append(p.InLists, l)
		} else {
			p.OtherLists = append(p.OtherLists, l)
		}
	}
	return nil
}

// attributesText writes attributes as name=value lines, sorted by name.
func attributesText(attrs map[string]any) string {
	var lines []string
	for k, val := range attrs {
		lines = append(lines, k+"="+attributeText(val))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// attributeText is an attribute value as the form shows it (numbers in their shortest form).
func attributeText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// parseAttributes reads name=value lines. true and false become booleans and numbers written
// in their shortest form (3, 2.5, not 007) numbers; anything else stays text.
func parseAttributes(text string) (map[string]any, string) {
	out := map[string]any{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" {
			return nil, fmt.Sprintf("line %d: write each attribute as name=value", i+1)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Sprintf("line %d: %s is given twice", i+1, k)
		}
		out[k] = attributeValue(val)
	}
	return out, ""
}

func attributeValue(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) && strconv.FormatFloat(n, 'f', -1, 64) == s {
		return n
	}
	return s
}

// parseTags reads comma-separated tags.
func parseTags(s string) []string {
	tags := []string{}
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// contactWrite starts a POST that changes contacts: it reads the form and checks that the
// viewer may change contacts (a member gets the 403 page, whatever they posted). ok is false
// when the answer was written.
func (h *Handler) contactWrite(w http.ResponseWriter, r *http.Request) (string, bool) {
	return h.formAction(w, r, authz.ContactsWrite)
}

// saveContact creates (contactId "") or changes a contact from the form; errors come back on
// the form with their status (422 with the phone's reason, 409 when the number is taken).
func (h *Handler) saveContact(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	contactID := r.PathValue("contactId")
	f := newForm(r, contactFields...)
	attrs, msg := parseAttributes(f.Get("attributes"))
	if msg != "" {
		f.errs["attributes"] = sentence(msg)
		h.showContact(w, r, http.StatusUnprocessableEntity, contactID, f, nil)
		return
	}
	tags := parseTags(f.Get("tags"))
	dnc := f.Get("doNotCall") != ""
	var err error
	if contactID == "" {
		var c contact.Contact
		c, err = h.d.Contacts.Create(ctx, wsID, contact.CreateInput{Phone: f.Get("phone"), Name: f.Get("name"), Email: f.Get("email"),
			Timezone: f.Get("timezone"), Attributes: attrs, Tags: tags, DoNotCall: dnc})
		if err == nil {
			redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contacts/"+url.PathEscape(c.ID)+"?notice=contact-created")
			return
		}
	} else {
		var old contact.Contact
		if old, err = h.d.Contacts.Get(ctx, wsID, contactID); err == nil {
			_, err = h.d.Contacts.Update(ctx, wsID, contactID, contactPatch(old, f, attrs, tags, dnc))
		}
		if err == nil {
			redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contacts/"+url.PathEscape(contactID)+"?notice=contact-saved")
			return
		}
	}
	e, status, ok := actionError(err)
	if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
		h.fail(w, r, nil, err)
		return
	}
	retryAfter(w, e)
	placeContactError(f, e)
	h.showContact(w, r, status, contactID, f, nil)
}

// contactPatch is what changed between the contact and the posted form: only those fields are
// sent, so an untouched time zone that came from the number keeps following it.
func contactPatch(old contact.Contact, f *form, attrs map[string]any, tags []string, dnc bool) contact.Patch {
	var p contact.Patch
	str := func(posted, was string) *string {
		if strings.TrimSpace(posted) == was {
			return nil
		}
		return &posted
	}
	p.Phone = str(f.Get("phone"), old.Phone)
	p.Name = str(f.Get("name"), old.Name)
	p.Email = str(f.Get("email"), old.Email)
	p.Timezone = str(f.Get("timezone"), old.Timezone)
	if !slices.Equal(slices.Compact(slices.Sorted(slices.Values(tags))), old.Tags) {
		p.Tags = tags
	}
	for k, val := range attrs {
		if was, ok := old.Attributes[k]; !ok || attributeText(was) != attributeText(val) {
			if p.Attributes == nil {
				p.Attributes = map[string]any{}
			}
			p.Attributes[k] = val
		}
	}
	for k := range old.Attributes {
		if _, ok := attrs[k]; !ok {
			if p.Attributes == nil {
				p.Attributes = map[string]any{}
			}
			p.Attributes[k] = nil
		}
	}
	if dnc != old.DoNotCall {
		p.DoNotCall = &dnc
	}
	return p
}

// placeContactError puts the service's error on the contact form: an attribute's error on the
// attributes field (naming it), a taken number on the phone field.
func placeContactError(f *form, e *apierr.Error) {
	if e.Code == "contact_exists" {
		f.errs["phone"] = "A contact with this phone number already exists in this workspace."
		return
	}
	c := *e
	c.Fields = nil
	for _, fe := range e.Fields {
		if name, ok := strings.CutPrefix(fe.Location, "body.attributes."); ok {
			fe.Location = "body.attributes"
			fe.Message = name + ": " + fe.Message
		}
		c.Fields = append(c.Fields, fe)
	}
	f.setError(&c)
}

// deleteContact deletes a contact after the browser's confirmation. Its number stays on the
// do-not-call list if it is there.
func (h *Handler) deleteContact(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	if err := h.d.Contacts.Delete(r.Context(), wsID, r.PathValue("contactId")); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contacts?notice=contact-deleted")
}

// addContactToList adds the contact to the list picked on its page.
func (h *Handler) addContactToList(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	contactID := r.PathValue("contactId")
	listID := r.PostFormValue("listId")
	if listID == "" {
		h.showContact(w, r, http.StatusUnprocessableEntity, contactID, nil,
			apierr.Validation(apierr.FieldError{Location: "body.listId", Message: "choose a list"}))
		return
	}
	if _, _, err := h.d.Contacts.AddMembers(r.Context(), wsID, listID, []string{contactID}); err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		if errors.Is(err, apierr.NotFound) {
			e = apierr.New(apierr.NotFound, "not_found", "that list no longer exists")
		}
		h.showContact(w, r, status, contactID, nil, e)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contacts/"+url.PathEscape(contactID)+"?notice=added-to-list")
}

// removeContactFromList takes a contact out of a list; back is where to go afterwards (the
// contact's page or the list's).
func (h *Handler) removeContactFromList(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	listID, contactID := r.PathValue("listId"), r.PathValue("contactId")
	if err := h.d.Contacts.RemoveMember(r.Context(), wsID, listID, contactID); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	to := "/w/" + url.PathEscape(wsID) + "/contact-lists/" + url.PathEscape(listID)
	if r.PostFormValue("back") == "contact" {
		to = "/w/" + url.PathEscape(wsID) + "/contacts/" + url.PathEscape(contactID)
	}
	redirect(w, r, to+"?notice=removed-from-list")
}

// listsPage is what the contact-lists template gets.
type listsPage struct {
	Workspace  workspace.Membership
	Lists      []contact.List
	NextCursor string
	Paged      bool
	CanEdit    bool
}

// contactListsPage shows the workspace's lists and, to owners and admins, the create form.
func (h *Handler) contactListsPage(w http.ResponseWriter, r *http.Request) {
	h.showLists(w, r, http.StatusOK, newForm(nil, "name"))
}

func (h *Handler) showLists(w http.ResponseWriter, r *http.Request, status int, f *form) {
	v, m, ok := h.workspaceView(w, r, "contacts")
	if !ok {
		return
	}
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	list, err := h.d.Contacts.ListLists(r.Context(), m.ID, cursor, listsPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+url.PathEscape(m.ID)+"/contact-lists")
			return
		}
		h.fail(w, r, v, err)
		return
	}
	v.Form = f
	v.Page = listsPage{Workspace: m, Lists: list.Data, NextCursor: list.NextCursor, Paged: cursor != "", CanEdit: can(m.Role, authz.ContactsWrite)}
	h.render(w, r, status, "contact-lists", v)
}

// createList makes a list; errors (a taken name…) come back on the form.
func (h *Handler) createList(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	f := newForm(r, "name")
	l, err := h.d.Contacts.CreateList(r.Context(), wsID, f.Get("name"))
	if err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		if e.Code == "list_exists" {
			f.errs["name"] = sentence(e.Detail)
		} else {
			f.setError(e)
		}
		h.showLists(w, r, status, f)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contact-lists/"+url.PathEscape(l.ID)+"?notice=list-created")
}

// listPage is what the contact-list template gets.
type listPage struct {
	Workspace  workspace.Membership
	List       contact.List
	Members    []contact.Contact
	NextCursor string
	Paged      bool
	CanEdit    bool
}

// contactList shows a list's members and, to owners and admins, rename and delete.
func (h *Handler) contactList(w http.ResponseWriter, r *http.Request) {
	h.showList(w, r, http.StatusOK, nil)
}

func (h *Handler) showList(w http.ResponseWriter, r *http.Request, status int, f *form) {
	v, m, ok := h.workspaceView(w, r, "contacts")
	if !ok {
		return
	}
	ctx := r.Context()
	l, err := h.d.Contacts.GetList(ctx, m.ID, r.PathValue("listId"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	members, err := h.d.Contacts.List(ctx, m.ID, contact.Filter{ListID: l.ID}, cursor, contactsPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+url.PathEscape(m.ID)+"/contact-lists/"+url.PathEscape(l.ID))
			return
		}
		h.fail(w, r, v, err)
		return
	}
	if f == nil {
		f = newForm(nil, "name")
		f.Set("name", l.Name)
	}
	v.Form = f
	v.Page = listPage{Workspace: m, List: l, Members: members.Data, NextCursor: members.NextCursor, Paged: cursor != "", CanEdit: can(m.Role, authz.ContactsWrite)}
	h.render(w, r, status, "contact-list", v)
}

// renameList renames a list; errors come back on the rename form.
func (h *Handler) renameList(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	listID := r.PathValue("listId")
	f := newForm(r, "name")
	if _, err := h.d.Contacts.RenameList(r.Context(), wsID, listID, f.Get("name")); err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		if e.Code == "list_exists" {
			f.errs["name"] = sentence(e.Detail)
		} else {
			f.setError(e)
		}
		h.showList(w, r, status, f)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contact-lists/"+url.PathEscape(listID)+"?notice=list-renamed")
}

// deleteList deletes a list (its contacts stay) after the browser's confirmation.
func (h *Handler) deleteList(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	if err := h.d.Contacts.DeleteList(r.Context(), wsID, r.PathValue("listId")); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contact-lists?notice=list-deleted")
}

// dncPage is what the dnc template gets.
type dncPage struct {
	Workspace  workspace.Membership
	Entries    []contact.DNCEntry
	NextCursor string
	Paged      bool
	CanEdit    bool
	// Problem is what went wrong removing a number.
	Problem *form
}

// dnc shows the workspace's do-not-call list and, to owners and admins, the add form.
func (h *Handler) dnc(w http.ResponseWriter, r *http.Request) {
	h.showDNC(w, r, http.StatusOK, newForm(nil, "phone", "reason"), nil)
}

func (h *Handler) showDNC(w http.ResponseWriter, r *http.Request, status int, f *form, problem *apierr.Error) {
	v, m, ok := h.workspaceView(w, r, "contacts")
	if !ok {
		return
	}
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	list, err := h.d.Contacts.ListDNC(r.Context(), m.ID, cursor, dncPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+url.PathEscape(m.ID)+"/dnc")
			return
		}
		h.fail(w, r, v, err)
		return
	}
	p := dncPage{Workspace: m, Entries: list.Data, NextCursor: list.NextCursor, Paged: cursor != "", CanEdit: can(m.Role, authz.ContactsWrite), Problem: newForm(nil)}
	if problem != nil {
		p.Problem.setError(problem)
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "dnc", v)
}

// addDNC puts a number on the do-not-call list; errors come back on the form.
func (h *Handler) addDNC(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	f := newForm(r, "phone", "reason")
	_, created, err := h.d.Contacts.AddDNC(r.Context(), wsID, f.Get("phone"), f.Get("reason"))
	if err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		f.setError(e)
		h.showDNC(w, r, status, f, nil)
		return
	}
	notice := "dnc-added"
	if !created {
		notice = "dnc-already"
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/dnc?notice="+notice)
}

// removeDNC takes a number off the do-not-call list.
func (h *Handler) removeDNC(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.contactWrite(w, r)
	if !ok {
		return
	}
	if err := h.d.Contacts.RemoveDNC(r.Context(), wsID, r.PostFormValue("phone")); err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		if errors.Is(err, apierr.NotFound) {
			e = apierr.New(apierr.NotFound, "not_found", "that number is not on the do-not-call list (any more)")
		}
		h.showDNC(w, r, status, newForm(nil, "phone", "reason"), e)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/dnc?notice=dnc-removed")
}

// Tab names the Contacts section's tab a page belongs to (contacts-nav.html).
func (contactsPage) Tab() string { return "contacts" }
func (contactPage) Tab() string  { return "contacts" }
func (listsPage) Tab() string    { return "lists" }
func (listPage) Tab() string     { return "lists" }
func (dncPage) Tab() string      { return "dnc" }

// ---- CSV import.

// importPage is what the contact-import template gets.
type importPage struct {
	Workspace workspace.Membership
	// Import is nil when the upload was refused (Problem says why).
	Import  *contact.Import
	Problem *apierr.Error
}

func (importPage) Tab() string { return "contacts" }

// Running says whether the import is still working (the page refreshes itself).
func (p importPage) Running() bool {
	return p.Import != nil && (p.Import.Status == contact.ImportQueued || p.Import.Status == contact.ImportRunning)
}

// ErrorsURL is the import's errors.csv (the API route, which the session cookie authenticates).
func (p importPage) ErrorsURL() string {
	return "/v1/workspaces/" + url.PathEscape(p.Workspace.ID) + "/contact-imports/" + url.PathEscape(p.Import.ID) + "/errors.csv"
}

// importContacts starts a CSV import from the contacts page's upload form (multipart, streamed
// to disk) and shows its page; a refused file shows why on the same page.
func (h *Handler) importContacts(w http.ResponseWriter, r *http.Request) {
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID := r.PathValue("workspaceId")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Minute))
	mr, err := r.MultipartReader()
	if err != nil {
		h.fail(w, r, nil, apierr.New(apierr.BadRequest, "bad_form", "the form could not be read; please try again"))
		return
	}
	var opts contact.ImportOptions
	up, err := contact.ReceiveImportForm(r.Context(), h.d.Contacts, wsID, mr, &opts)
	var imp contact.Import
	if err == nil {
		imp, err = h.d.Contacts.StartImport(r.Context(), wsID, up, opts)
	}
	if err != nil {
		up.Discard()
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		v, m, ok := h.workspaceView(w, r, "contacts")
		if !ok {
			return
		}
		v.Page = importPage{Workspace: m, Problem: e}
		h.render(w, r, status, "contact-import", v)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/contact-imports/"+url.PathEscape(imp.ID))
}

// contactImport shows an import's progress and result; the page refreshes while it runs.
func (h *Handler) contactImport(w http.ResponseWriter, r *http.Request) {
	v, m, ok := h.workspaceView(w, r, "contacts")
	if !ok {
		return
	}
	imp, err := h.d.Contacts.GetImport(r.Context(), m.ID, r.PathValue("importId"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	v.Page = importPage{Workspace: m, Import: &imp}
	h.render(w, r, http.StatusOK, "contact-import", v)
}
