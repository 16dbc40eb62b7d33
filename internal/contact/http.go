package contact

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the handlers of the contact, list and do-not-call routes.
type HTTP struct {
	Svc *Service
	// OnStreamError reports an export cut short after its first byte (the status is sent by then).
	OnStreamError func(ctx context.Context, err error)
}

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// ContactPath names one of a workspace's contacts.
type ContactPath struct {
	WorkspacePath
	ContactID string `path:"contactId" maxLength:"64" doc:"The contact's ID (contact_…)."`
}

// ListPath names one of a workspace's contact lists.
type ListPath struct {
	WorkspacePath
	ListID string `path:"listId" maxLength:"64" doc:"The list's ID (list_…)."`
}

// ContactBody is the body that creates a contact.
type ContactBody struct {
	Phone      string         `json:"phone" minLength:"1" maxLength:"40" example:"+14155550123" doc:"E.164, or a national number of the workspace's defaultRegion; stored in E.164."`
	Name       string         `json:"name,omitempty" maxLength:"200" example:"Ada Lovelace"`
	Email      string         `json:"email,omitempty" maxLength:"254" example:"ada@example.com"`
	Timezone   string         `json:"timezone,omitempty" maxLength:"64" example:"America/Los_Angeles" doc:"IANA time zone; absent: derived from the number when it has exactly one."`
	Attributes map[string]any `json:"attributes,omitempty" doc:"A flat object of strings, numbers and booleans (at most 50)." example:"{\"plan\":\"gold\",\"visits\":3,\"vip\":true}"`
	Tags       []string       `json:"tags,omitempty" maxItems:"50" example:"[\"vip\"]" doc:"1 to 50 characters each, no comma."`
	DoNotCall  bool           `json:"doNotCall,omitempty" doc:"Put the number on the workspace's do-not-call list."`
}

// CreateContactRequest is POST /v1/workspaces/{workspaceId}/contacts.
type CreateContactRequest struct {
	WorkspacePath
	Body ContactBody
}

// ContactOutput is one contact.
type ContactOutput struct {
	Body Contact
}

// Create handles POST /v1/workspaces/{workspaceId}/contacts.
func (h *HTTP) Create(ctx context.Context, in *CreateContactRequest) (*ContactOutput, error) {
	c, err := h.Svc.Create(ctx, in.WorkspaceID, CreateInput(in.Body))
	if err != nil {
		return nil, err
	}
	return &ContactOutput{Body: c}, nil
}

// Get handles GET /v1/workspaces/{workspaceId}/contacts/{contactId}.
func (h *HTTP) Get(ctx context.Context, in *ContactPath) (*ContactOutput, error) {
	c, err := h.Svc.Get(ctx, in.WorkspaceID, in.ContactID)
	if err != nil {
		return nil, err
	}
	return &ContactOutput{Body: c}, nil
}

// FilterQuery is the search of the contact list and the export.
type FilterQuery struct {
	Phone     string   `query:"phone" maxLength:"20" doc:"Phone prefix: the start of the E.164 number (+9198…). Refused to members who see numbers masked."`
	Name      string   `query:"name" maxLength:"200" doc:"A substring of the name, any case."`
	Tag       []string `query:"tag,explode" maxItems:"10" doc:"Has this tag (repeat: has every one)."`
	Attribute []string `query:"attribute,explode" maxItems:"10" doc:"name:value — the attribute equals the value, compared as text (3, true, gold). Repeat: every one."`
	ListID    string   `query:"listId" maxLength:"64" doc:"Is a member of this list."`
	DoNotCall string   `query:"doNotCall" enum:"true,false" doc:"Whether the number is on the do-not-call list."`
}

func (q FilterQuery) filter() (Filter, error) {
	f := Filter{PhonePrefix: strings.TrimSpace(q.Phone), Name: strings.TrimSpace(q.Name), Tags: q.Tag, ListID: q.ListID}
	for _, a := range q.Attribute {
		name, value, ok := strings.Cut(a, ":")
		if !ok || name == "" {
			return Filter{}, apierr.Validation(apierr.FieldError{Location: "query.attribute", Message: "name:value", Value: a})
		}
		f.Attributes = append(f.Attributes, AttributeEq{Name: name, Value: value})
	}
	switch q.DoNotCall {
	case "true":
		t := true
		f.DoNotCall = &t
	case "false":
		t := false
		f.DoNotCall = &t
	}
	return f, nil
}

// ListContactsRequest is GET /v1/workspaces/{workspaceId}/contacts.
type ListContactsRequest struct {
	WorkspacePath
	FilterQuery
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ContactsOutput is a page of contacts.
type ContactsOutput struct {
	Body page.Page[Contact]
}

// List handles GET /v1/workspaces/{workspaceId}/contacts.
func (h *HTTP) List(ctx context.Context, in *ListContactsRequest) (*ContactsOutput, error) {
	f, err := in.filter()
	if err != nil {
		return nil, err
	}
	p, err := h.Svc.List(ctx, in.WorkspaceID, f, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ContactsOutput{Body: p}, nil
}

// UpdateContactRequest is PATCH /v1/workspaces/{workspaceId}/contacts/{contactId}.
type UpdateContactRequest struct {
	ContactPath
	Body struct {
		Phone      *string        `json:"phone,omitempty" minLength:"1" maxLength:"40" example:"+14155550124"`
		Name       *string        `json:"name,omitempty" maxLength:"200"`
		Email      *string        `json:"email,omitempty" maxLength:"254" doc:"\"\" removes it."`
		Timezone   *string        `json:"timezone,omitempty" maxLength:"64" doc:"\"\" derives it from the number again."`
		Attributes map[string]any `json:"attributes,omitempty" doc:"Merged into the contact's: a value sets, null removes."`
		Tags       []string       `json:"tags,omitempty" maxItems:"50" doc:"Replaces the tags ([] removes them all)."`
		DoNotCall  *bool          `json:"doNotCall,omitempty" doc:"Put the number on, or take it off, the workspace's do-not-call list."`
	}
}

// Update handles PATCH /v1/workspaces/{workspaceId}/contacts/{contactId}.
func (h *HTTP) Update(ctx context.Context, in *UpdateContactRequest) (*ContactOutput, error) {
	b := in.Body
	c, err := h.Svc.Update(ctx, in.WorkspaceID, in.ContactID, Patch{Phone: b.Phone, Name: b.Name, Email: b.Email, Timezone: b.Timezone,
		Attributes: b.Attributes, Tags: b.Tags, DoNotCall: b.DoNotCall})
	if err != nil {
		return nil, err
	}
	return &ContactOutput{Body: c}, nil
}

// Delete handles DELETE /v1/workspaces/{workspaceId}/contacts/{contactId}.
func (h *HTTP) Delete(ctx context.Context, in *ContactPath) (*struct{}, error) {
	return nil, h.Svc.Delete(ctx, in.WorkspaceID, in.ContactID)
}

// ExportRequest is GET /v1/workspaces/{workspaceId}/contacts/export.csv.
type ExportRequest struct {
	WorkspacePath
	FilterQuery
}

// Export handles GET /v1/workspaces/{workspaceId}/contacts/export.csv: the CSV is streamed.
func (h *HTTP) Export(ctx context.Context, in *ExportRequest) (*huma.StreamResponse, error) {
	f, err := in.filter()
	if err != nil {
		return nil, err
	}
	write, err := h.Svc.Export(ctx, in.WorkspaceID, f)
	if err != nil {
		return nil, err
	}
	return h.streamCSV(ctx, "contacts.csv", write), nil
}

// streamCSV answers 200 with the CSV that write streams, as a download named fileName.
func (h *HTTP) streamCSV(ctx context.Context, fileName string, write func(io.Writer) error) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hc.SetHeader("Content-Disposition", `attachment; filename="`+fileName+`"`)
		hc.SetHeader("Cache-Control", "no-store")
		hc.SetStatus(http.StatusOK)
		if err := write(hc.BodyWriter()); err != nil {
			if h.OnStreamError != nil {
				h.OnStreamError(ctx, err)
			}
			// The status is sent: abort the response so the client sees a broken download rather
			// than a complete-looking file.
			panic(http.ErrAbortHandler)
		}
	}}
}

// ExportResponses documents the export's body in the OpenAPI document.
var ExportResponses = map[string]*huma.Response{
	"200": {Description: "The contacts as CSV: " + strings.Join(ExportColumns, ",") + ", then one column per attribute name.",
		Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}},
}

// ---- Lists.

// ListBody names a list.
type ListBody struct {
	Name string `json:"name" minLength:"1" maxLength:"100" example:"Spring campaign"`
}

// CreateListRequest is POST /v1/workspaces/{workspaceId}/contact-lists.
type CreateListRequest struct {
	WorkspacePath
	Body ListBody
}

// ListOutput is one list.
type ListOutput struct {
	Body List
}

// CreateList handles POST /v1/workspaces/{workspaceId}/contact-lists.
func (h *HTTP) CreateList(ctx context.Context, in *CreateListRequest) (*ListOutput, error) {
	l, err := h.Svc.CreateList(ctx, in.WorkspaceID, in.Body.Name)
	if err != nil {
		return nil, err
	}
	return &ListOutput{Body: l}, nil
}

// PageRequest is a page of a workspace collection.
type PageRequest struct {
	WorkspacePath
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ListsOutput is a page of lists.
type ListsOutput struct {
	Body page.Page[List]
}

// ListLists handles GET /v1/workspaces/{workspaceId}/contact-lists.
func (h *HTTP) ListLists(ctx context.Context, in *PageRequest) (*ListsOutput, error) {
	p, err := h.Svc.ListLists(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ListsOutput{Body: p}, nil
}

// GetList handles GET /v1/workspaces/{workspaceId}/contact-lists/{listId}.
func (h *HTTP) GetList(ctx context.Context, in *ListPath) (*ListOutput, error) {
	l, err := h.Svc.GetList(ctx, in.WorkspaceID, in.ListID)
	if err != nil {
		return nil, err
	}
	return &ListOutput{Body: l}, nil
}

// RenameListRequest is PATCH /v1/workspaces/{workspaceId}/contact-lists/{listId}.
type RenameListRequest struct {
	ListPath
	Body ListBody
}

// RenameList handles PATCH /v1/workspaces/{workspaceId}/contact-lists/{listId}.
func (h *HTTP) RenameList(ctx context.Context, in *RenameListRequest) (*ListOutput, error) {
	l, err := h.Svc.RenameList(ctx, in.WorkspaceID, in.ListID, in.Body.Name)
	if err != nil {
		return nil, err
	}
	return &ListOutput{Body: l}, nil
}

// DeleteList handles DELETE /v1/workspaces/{workspaceId}/contact-lists/{listId}.
func (h *HTTP) DeleteList(ctx context.Context, in *ListPath) (*struct{}, error) {
	return nil, h.Svc.DeleteList(ctx, in.WorkspaceID, in.ListID)
}

// AddMembersRequest is POST /v1/workspaces/{workspaceId}/contact-lists/{listId}/members.
type AddMembersRequest struct {
	ListPath
	Body struct {
		ContactIDs []string `json:"contactIds" minItems:"1" maxItems:"1000" example:"[\"contact_01jq3v5x8kf9r1t6m2c4d7e8gh\"]" doc:"Contacts of the workspace; those already in the list are left alone."`
	}
}

// AddMembersOutput is the list after an addition.
type AddMembersOutput struct {
	Body struct {
		List  List `json:"list"`
		Added int  `json:"added" doc:"How many contacts were not in the list before."`
	}
}

// AddMembers handles POST /v1/workspaces/{workspaceId}/contact-lists/{listId}/members.
func (h *HTTP) AddMembers(ctx context.Context, in *AddMembersRequest) (*AddMembersOutput, error) {
	l, n, err := h.Svc.AddMembers(ctx, in.WorkspaceID, in.ListID, in.Body.ContactIDs)
	if err != nil {
		return nil, err
	}
	out := &AddMembersOutput{}
	out.Body.List, out.Body.Added = l, n
	return out, nil
}

// MemberPath names a contact in a list.
type MemberPath struct {
	ListPath
	ContactID string `path:"contactId" maxLength:"64" doc:"The contact's ID (contact_…)."`
}

// RemoveMember handles DELETE /v1/workspaces/{workspaceId}/contact-lists/{listId}/members/{contactId}.
func (h *HTTP) RemoveMember(ctx context.Context, in *MemberPath) (*struct{}, error) {
	return nil, h.Svc.RemoveMember(ctx, in.WorkspaceID, in.ListID, in.ContactID)
}

// ---- Do-not-call.

// AddDNCRequest is POST /v1/workspaces/{workspaceId}/dnc.
type AddDNCRequest struct {
	WorkspacePath
	Body struct {
		Phone  string `json:"phone" minLength:"1" maxLength:"40" example:"+14155550142" doc:"E.164, or a national number of the workspace's defaultRegion."`
		Reason string `json:"reason,omitempty" maxLength:"200" example:"asked not to be called"`
	}
}

// DNCOutput is one do-not-call entry; 201 when it was added, 200 when it was already there.
type DNCOutput struct {
	Status int
	Body   DNCEntry
}

// AddDNC handles POST /v1/workspaces/{workspaceId}/dnc.
func (h *HTTP) AddDNC(ctx context.Context, in *AddDNCRequest) (*DNCOutput, error) {
	e, created, err := h.Svc.AddDNC(ctx, in.WorkspaceID, in.Body.Phone, in.Body.Reason)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &DNCOutput{Status: status, Body: e}, nil
}

// DNCListOutput is a page of the do-not-call list.
type DNCListOutput struct {
	Body page.Page[DNCEntry]
}

// ListDNC handles GET /v1/workspaces/{workspaceId}/dnc.
func (h *HTTP) ListDNC(ctx context.Context, in *PageRequest) (*DNCListOutput, error) {
	p, err := h.Svc.ListDNC(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &DNCListOutput{Body: p}, nil
}

// DNCPath names a number of the do-not-call list.
type DNCPath struct {
	WorkspacePath
	Phone string `path:"phone" maxLength:"40" doc:"The number (E.164; URL-encode the + as %2B or write it as is)."`
}

// RemoveDNC handles DELETE /v1/workspaces/{workspaceId}/dnc/{phone}.
func (h *HTTP) RemoveDNC(ctx context.Context, in *DNCPath) (*struct{}, error) {
	return nil, h.Svc.RemoveDNC(ctx, in.WorkspaceID, in.Phone)
}
