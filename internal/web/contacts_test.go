package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// contactFixture is a workspace with an owner, ready for the contacts pages.
type contactFixture struct {
	env  *testEnv
	ada  *browser
	wsID string
}

func newContactFixture(t *testing.T) contactFixture {
	t.Helper()
	env := newEnv(t)
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	return contactFixture{env: env, ada: ada, wsID: ada.createWorkspace("Acme", "UTC")}
}

// create adds a contact through the service, as the owner.
func (fx contactFixture) create(t *testing.T, in contact.CreateInput) contact.Contact {
	t.Helper()
	c, err := fx.env.cts.Create(fx.ada.ctx(), fx.wsID, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// get reads a contact through the service, as the owner.
func (fx contactFixture) get(t *testing.T, id string) contact.Contact {
	t.Helper()
	c, err := fx.env.cts.Get(fx.ada.ctx(), fx.wsID, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (fx contactFixture) path(p string) string { return "/w/" + fx.wsID + p }

// href returns the unescaped href of the link with the id.
func href(t *testing.T, res response, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]*)" id="` + id + `"`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no link #%s on %s\n%s", id, res.Request.URL, res.body)
	}
	return html.UnescapeString(m[1])
}

func TestContactsSearchAndPagination(t *testing.T) {
	fx := newContactFixture(t)
	for i := range 55 {
		in := contact.CreateInput{Phone: fmt.Sprintf("+1415555%04d", 100+i), Name: fmt.Sprintf("Person %02d", i)}
		if i%2 == 0 {
			in.Tags = []string{"even"}
		}
		if i%10 == 0 {
			in.Attributes = map[string]any{"plan": "gold"}
		}
		fx.create(t, in)
	}
	zed := fx.create(t, contact.CreateInput{Phone: "+442079460958", Name: "Zed", Email: "zed@example.com", Tags: []string{"uk", "vip"}})

	b := fx.ada
	res := b.get(fx.path("/contacts"))
	expect(t, res, http.StatusOK, `<a href="/w/`+fx.wsID+`/contacts" aria-current="page">Contacts</a>`,
		`id="new-contact"`, "Zed", "+442079460958", "zed@example.com", `<span class="badge tag">vip</span>`,
		`href="/v1/workspaces/`+fx.wsID+`/contacts/export.csv"`)
	noInline(t, res)
	if n := strings.Count(res.body, `<tr id="contact-`); n != 50 {
		t.Errorf("first page has %d rows, want 50", n)
	}

	// The search keeps its filters on the Older link and in the export link.
	res = b.get(fx.path("/contacts?name=person"))
	expect(t, res, http.StatusOK, `value="person"`, "Clear search")
	lacks(t, res, "Zed")
	if n := strings.Count(res.body, `<tr id="contact-`); n != 50 {
		t.Errorf("first page of the search has %d rows, want 50", n)
	}
	older := href(t, res, "older")
	if u, _ := url.Parse(older); u.Query().Get("name") != "person" || u.Query().Get("cursor") == "" {
		t.Fatalf("Older link %q lost the search", older)
	}
	if exp := href(t, res, "export-csv"); exp != "/v1/workspaces/"+fx.wsID+"/contacts/export.csv?name=person" {
		t.Errorf("export link = %q", exp)
	}
	res = b.get(older)
	expect(t, res, http.StatusOK, "Person 00", `id="newest"`)
	if n := strings.Count(res.body, `<tr id="contact-`); n != 5 {
		t.Errorf("second page has %d rows, want 5", n)
	}
	if newest := href(t, res, "newest"); newest != fx.path("/contacts?name=person") {
		t.Errorf("Newest link = %q", newest)
	}
	lacks(t, res, `id="older"`)

	for _, tc := range []struct {
		query string
		rows  int
		has   string
	}{
		{"tag=even", 28, "Person 54"},
		{"tag=vip", 1, "Zed"},
		{"attribute=plan%3Dgold", 6, "Person 50"},
		{"attribute=plan%3Agold&tag=even", 6, "Person 40"},
		{"phone=%2B4420", 1, "Zed"},
		{"phone=%2B14155550105", 1, "Person 05"},
		{"name=nobody", 0, "No contact matches this search."},
	} {
		res := b.get(fx.path("/contacts?" + tc.query))
		expect(t, res, http.StatusOK, tc.has)
		if n := strings.Count(res.body, `<tr id="contact-`); n != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.query, n, tc.rows)
		}
	}
	res = b.get(fx.path("/contacts?attribute=plan%3Dgold&tag=even"))
	if exp := href(t, res, "export-csv"); exp != "/v1/workspaces/"+fx.wsID+"/contacts/export.csv?attribute=plan%3Agold&tag=even" {
		t.Errorf("export link = %q", exp)
	}

	// A malformed search is shown on the form.
	res = b.get(fx.path("/contacts?attribute=gold"))
	expect(t, res, http.StatusUnprocessableEntity, "Write an attribute search as name=value", `aria-invalid="true"`)
	res = b.get(fx.path("/contacts?phone=abc"))
	expect(t, res, http.StatusUnprocessableEntity, `id="phone-error"`)
	// A mangled cursor starts over.
	expectRedirect(t, b.get(fx.path("/contacts?name=zed&cursor=%21%21")), fx.path("/contacts?name=zed"))

	res = b.get(fx.path("/contacts/" + zed.ID))
	expect(t, res, http.StatusOK, `value="+442079460958"`, `value="uk, vip"`, `value="Europe/London"`)
}

func TestContactCreateEditDelete(t *testing.T) {
	fx := newContactFixture(t)
	b := fx.ada

	res := b.get(fx.path("/contacts/new"))
	expect(t, res, http.StatusOK, `<form method="post" action="/w/`+fx.wsID+`/contacts"`, `<label for="phone">Phone</label>`, `id="doNotCall"`)
	noInline(t, res)

	// An impossible number: 422 with the reason, beside the field, what was typed kept.
	res = b.post(fx.path("/contacts"), url.Values{"phone": {"+1 415 555"}, "name": {"Ada <b>"}, "tags": {"a, b"}})
	expect(t, res, http.StatusUnprocessableEntity, "There is a problem", `id="phone-error"`, "Too short",
		`value="+1 415 555"`, `value="Ada &lt;b&gt;"`, `value="a, b"`, `href="#phone"`)
	res = b.post(fx.path("/contacts"), url.Values{"phone": {"call me"}})
	expect(t, res, http.StatusUnprocessableEntity, "Not a phone number.")
	// Attribute lines that are not name=value, and bad attribute names.
	res = b.post(fx.path("/contacts"), url.Values{"phone": {"+14155550123"}, "attributes": {"plan=gold\nnonsense"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="attributes-error"`, "Line 2: write each attribute as name=value.")
	res = b.post(fx.path("/contacts"), url.Values{"phone": {"+14155550123"}, "attributes": {"9lives=yes"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="attributes-error"`, "9lives: ")

	// A national number in the workspace's default region (US), with attributes and tags.
	res = b.post(fx.path("/contacts"), url.Values{"phone": {"(415) 555-0123"}, "name": {"Grace"}, "email": {"grace@example.com"},
		"tags": {"vip, renewal, vip"}, "attributes": {"plan=gold\nseats=3\nactive=true\ncode=007"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", res.StatusCode, res.body)
	}
	loc := res.Header.Get("Location")
	id := strings.TrimSuffix(strings.TrimPrefix(loc, fx.path("/contacts/")), "?notice=contact-created")
	c := fx.get(t, id)
	if c.Phone != "+14155550123" || c.Name != "Grace" || c.Timezone != "America/Los_Angeles" || strings.Join(c.Tags, ",") != "renewal,vip" ||
		c.Attributes["plan"] != "gold" || c.Attributes["seats"] != 3.0 || c.Attributes["active"] != true || c.Attributes["code"] != "007" {
		t.Fatalf("created %+v", c)
	}
	res = b.get(loc)
	expect(t, res, http.StatusOK, "Contact added.", `<h1 id="contact-title">Grace</h1>`, `value="+14155550123"`,
		"active=true\ncode=007\nplan=gold\nseats=3", `id="delete-contact"`, `data-confirm=`)

	// The same number again: 409, on the phone field.
	res = b.post(fx.path("/contacts"), url.Values{"phone": {"+1 415-555-0123"}, "name": {"Grace again"}})
	expect(t, res, http.StatusConflict, "A contact with this phone number already exists in this workspace.", `value="Grace again"`)

	// Saving only what changed: the time zone that came from the number follows a new number.
	res = b.post(fx.path("/contacts/"+id), url.Values{"phone": {"+442079460958"}, "name": {"Grace Hopper"}, "email": {"grace@example.com"},
		"timezone": {"America/Los_Angeles"}, "tags": {"vip"}, "attributes": {"plan=platinum\nseats=3\ncode=007"}, "doNotCall": {"on"}})
	expectRedirect(t, res, fx.path("/contacts/"+id+"?notice=contact-saved"))
	c = fx.get(t, id)
	if c.Phone != "+442079460958" || c.Name != "Grace Hopper" || c.Timezone != "Europe/London" || strings.Join(c.Tags, ",") != "vip" ||
		c.Attributes["plan"] != "platinum" || c.Attributes["active"] != nil || len(c.Attributes) != 3 || !c.DoNotCall {
		t.Fatalf("saved %+v", c)
	}
	res = b.get(fx.path("/contacts"))
	expect(t, res, http.StatusOK, `<span class="badge badge-dnc">Do not call</span>`)
	res = b.get(fx.path("/dnc"))
	expect(t, res, http.StatusOK, "+442079460958")

	// A second contact cannot take its number: 409 on the edit form.
	other := fx.create(t, contact.CreateInput{Phone: "+14155550124"})
	res = b.post(fx.path("/contacts/"+other.ID), url.Values{"phone": {"+442079460958"}})
	expect(t, res, http.StatusConflict, "already exists", `value="+442079460958"`)

	// Delete, after the browser's confirmation; the number stays on the do-not-call list.
	expectRedirect(t, b.post(fx.path("/contacts/"+id+"/delete"), nil), fx.path("/contacts?notice=contact-deleted"))
	expect(t, b.get(fx.path("/contacts/"+id)), http.StatusNotFound, "Page not found")
	expect(t, b.get(fx.path("/dnc")), http.StatusOK, "+442079460958")
	expect(t, b.post(fx.path("/contacts/"+id+"/delete"), nil), http.StatusNotFound)
}

func TestContactsMemberIsReadOnly(t *testing.T) {
	fx := newContactFixture(t)
	c := fx.create(t, contact.CreateInput{Phone: "+14155550123", Name: "Grace", Tags: []string{"vip"}, Attributes: map[string]any{"plan": "gold"}})
	l, err := fx.env.cts.CreateList(fx.ada.ctx(), fx.wsID, "Renewals")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fx.env.cts.AddMembers(fx.ada.ctx(), fx.wsID, l.ID, []string{c.ID}); err != nil {
		t.Fatal(err)
	}
	bob := fx.ada.join(fx.wsID, "Bob", "bob@example.com", string(authz.Member))

	res := bob.get(fx.path("/contacts"))
	expect(t, res, http.StatusOK, `>Contacts</a>`, "Grace", "+14155550123", "Export CSV")
	lacks(t, res, `id="new-contact"`)
	res = bob.get(fx.path("/contacts/" + c.ID))
	expect(t, res, http.StatusOK, `id="read-only"`, `<code id="contact-phone">+14155550123</code>`, "<code>plan=gold</code>", "Renewals")
	lacks(t, res, "<form method=\"post\" action=\"/w/"+fx.wsID+"/contacts", `id="delete-contact"`, `id="add-to-list"`)
	noInline(t, res)
	res = bob.get(fx.path("/contact-lists/" + l.ID))
	expect(t, res, http.StatusOK, "Renewals")
	lacks(t, res, `id="rename-list"`, `id="delete-list"`)
	res = bob.get(fx.path("/dnc"))
	expect(t, res, http.StatusOK, "No numbers on the do-not-call list.")
	lacks(t, res, `id="add-dnc"`)
	expect(t, bob.get(fx.path("/contacts/new")), http.StatusForbidden)

	for _, p := range []string{"/contacts", "/contacts/" + c.ID, "/contacts/" + c.ID + "/delete", "/contacts/" + c.ID + "/lists",
		"/contact-lists", "/contact-lists/" + l.ID, "/contact-lists/" + l.ID + "/delete", "/contact-lists/" + l.ID + "/members/" + c.ID + "/remove",
		"/dnc", "/dnc/remove"} {
		res := bob.post(fx.path(p), url.Values{"phone": {"+14155550199"}, "name": {"x"}, "listId": {l.ID}})
		expect(t, res, http.StatusForbidden, "You cannot open this page")
	}
	if got := fx.get(t, c.ID); got.Name != "Grace" {
		t.Errorf("a member's post changed the contact: %+v", got)
	}

	// Not a member at all: 404, like a missing workspace.
	eve := fx.env.browser(t)
	eve.signup("eve@example.com")
	expect(t, eve.get(fx.path("/contacts")), http.StatusNotFound)
	expect(t, eve.post(fx.path("/dnc"), url.Values{"phone": {"+14155550199"}}), http.StatusNotFound)
}

func TestContactsMaskedForMember(t *testing.T) {
	fx := newContactFixture(t)
	c := fx.create(t, contact.CreateInput{Phone: "+14155550123", Name: "Grace"})
	if _, _, err := fx.env.cts.AddDNC(fx.ada.ctx(), fx.wsID, "+14155550199", "asked"); err != nil {
		t.Fatal(err)
	}
	bob := fx.ada.join(fx.wsID, "Bob", "bob@example.com", string(authz.Member))
	if _, err := fx.env.ags.UpdateSettings(fx.ada.ctx(), fx.wsID, map[string]any{"privacy": map[string]any{"maskPhoneNumbersForMembers": true}}, ""); err != nil {
		t.Fatal(err)
	}

	res := bob.get(fx.path("/contacts"))
	expect(t, res, http.StatusOK, "+1 41*****123")
	lacks(t, res, "+14155550123")
	res = bob.get(fx.path("/contacts/" + c.ID))
	expect(t, res, http.StatusOK, "+1 41*****123")
	lacks(t, res, "+14155550123")
	res = bob.get(fx.path("/dnc"))
	expect(t, res, http.StatusOK, "+1 41*****199")
	lacks(t, res, "+14155550199")
	// A phone search would reveal numbers: refused, on the page.
	res = bob.get(fx.path("/contacts?phone=%2B1415"))
	expect(t, res, http.StatusForbidden, "Phone numbers are masked for members of this workspace")
	lacks(t, res, "Grace")

	// Owners see them whole.
	res = fx.ada.get(fx.path("/contacts"))
	expect(t, res, http.StatusOK, "+14155550123")
	lacks(t, res, "*****")
}

func TestDNCPage(t *testing.T) {
	fx := newContactFixture(t)
	b := fx.ada

	res := b.get(fx.path("/dnc"))
	expect(t, res, http.StatusOK, "No numbers on the do-not-call list.", `id="add-dnc"`, `aria-current="page">Do not call</a>`)
	noInline(t, res)

	res = b.post(fx.path("/dnc"), url.Values{"phone": {"+1 415 555"}, "reason": {"asked"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="phone-error"`, "Too short", `value="asked"`)

	expectRedirect(t, b.post(fx.path("/dnc"), url.Values{"phone": {"(415) 555-0199"}, "reason": {"Asked us to stop"}}), fx.path("/dnc?notice=dnc-added"))
	expectRedirect(t, b.post(fx.path("/dnc"), url.Values{"phone": {"+14155550199"}}), fx.path("/dnc?notice=dnc-already"))
	res = b.get(fx.path("/dnc?notice=dnc-added"))
	expect(t, res, http.StatusOK, "Number added to the do-not-call list.", "<code>+14155550199</code>", "Asked us to stop",
		`<input type="hidden" name="phone" value="+14155550199">`)
	if err := fx.env.cts.IsCallable(b.ctx(), fx.wsID, "+14155550199"); err == nil {
		t.Fatal("the listed number is callable")
	}

	// A contact with the number shows as do-not-call.
	c := fx.create(t, contact.CreateInput{Phone: "+14155550199", Name: "Grace"})
	expect(t, b.get(fx.path("/contacts")), http.StatusOK, `<span class="badge badge-dnc">Do not call</span>`)
	expect(t, b.get(fx.path("/contacts/"+c.ID)), http.StatusOK, `id="dnc-badge"`, `name="doNotCall" value="on" checked`)

	expectRedirect(t, b.post(fx.path("/dnc/remove"), url.Values{"phone": {"+14155550199"}}), fx.path("/dnc?notice=dnc-removed"))
	res = b.get(fx.path("/dnc"))
	expect(t, res, http.StatusOK, "No numbers on the do-not-call list.")
	if fx.get(t, c.ID).DoNotCall {
		t.Error("the contact is still do-not-call")
	}
	res = b.post(fx.path("/dnc/remove"), url.Values{"phone": {"+14155550199"}})
	expect(t, res, http.StatusNotFound, "That number is not on the do-not-call list (any more).")
}

func TestContactListMembership(t *testing.T) {
	fx := newContactFixture(t)
	b := fx.ada
	c := fx.create(t, contact.CreateInput{Phone: "+14155550123", Name: "Grace"})
	fx.create(t, contact.CreateInput{Phone: "+14155550124", Name: "Alan"})

	res := b.get(fx.path("/contact-lists"))
	expect(t, res, http.StatusOK, "No lists yet.", `id="create-list"`)
	noInline(t, res)
	res = b.get(fx.path("/contacts/" + c.ID))
	expect(t, res, http.StatusOK, "No lists yet")

	res = b.post(fx.path("/contact-lists"), url.Values{"name": {"  "}})
	expect(t, res, http.StatusUnprocessableEntity, `id="name-error"`)
	res = b.post(fx.path("/contact-lists"), url.Values{"name": {"Renewals"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create list: %d\n%s", res.StatusCode, res.body)
	}
	listURL, _, _ := strings.Cut(res.Header.Get("Location"), "?")
	listID := strings.TrimPrefix(listURL, fx.path("/contact-lists/"))
	expect(t, b.post(fx.path("/contact-lists"), url.Values{"name": {"Renewals"}}), http.StatusConflict, "already has a list with this name", `value="Renewals"`)
	res = b.get(listURL)
	expect(t, res, http.StatusOK, `<h1 id="list-title">Renewals</h1>`, "No contacts in this list yet.", `id="delete-list"`)

	// Add from the contact page.
	res = b.get(fx.path("/contacts/" + c.ID))
	expect(t, res, http.StatusOK, `id="add-to-list"`, `<option value="`+listID+`">Renewals</option>`, "In no list.")
	expectRedirect(t, b.post(fx.path("/contacts/"+c.ID+"/lists"), url.Values{"listId": {listID}}), fx.path("/contacts/"+c.ID+"?notice=added-to-list"))
	res = b.get(fx.path("/contacts/" + c.ID))
	expect(t, res, http.StatusOK, `<a href="`+listURL+`">Renewals</a>`, "It is in every list.")
	res = b.get(listURL)
	expect(t, res, http.StatusOK, `<tr id="member-`+c.ID+`">`, "Grace", `<span id="list-size">1</span> contact.`)
	lacks(t, res, "Alan")
	res = b.get(fx.path("/contact-lists"))
	expect(t, res, http.StatusOK, `<a href="`+listURL+`">Renewals</a></th>`, "<td>1</td>")
	res = b.post(fx.path("/contacts/"+c.ID+"/lists"), url.Values{"listId": {"list_01jq3v5x8kf9r1t6m2c4d7e8gh"}})
	expect(t, res, http.StatusNotFound, "That list no longer exists.")

	// Rename; a taken name is refused on the form.
	if _, err := fx.env.cts.CreateList(b.ctx(), fx.wsID, "Other"); err != nil {
		t.Fatal(err)
	}
	expect(t, b.post(listURL, url.Values{"name": {"Other"}}), http.StatusConflict, "already has a list with this name", `value="Other"`)
	expectRedirect(t, b.post(listURL, url.Values{"name": {"Q3 renewals"}}), listURL+"?notice=list-renamed")

	// Remove from the contact page, then again from the list page.
	expectRedirect(t, b.post(listURL+"/members/"+c.ID+"/remove", url.Values{"back": {"contact"}}), fx.path("/contacts/"+c.ID+"?notice=removed-from-list"))
	expect(t, b.get(listURL), http.StatusOK, "No contacts in this list yet.")
	expectRedirect(t, b.post(fx.path("/contacts/"+c.ID+"/lists"), url.Values{"listId": {listID}}), fx.path("/contacts/"+c.ID+"?notice=added-to-list"))
	expectRedirect(t, b.post(listURL+"/members/"+c.ID+"/remove", nil), listURL+"?notice=removed-from-list")
	expect(t, b.get(listURL), http.StatusOK, "No contacts in this list yet.")

	// Delete: the contacts stay.
	expectRedirect(t, b.post(listURL+"/delete", nil), fx.path("/contact-lists?notice=list-deleted"))
	expect(t, b.get(listURL), http.StatusNotFound)
	fx.get(t, c.ID)
}
