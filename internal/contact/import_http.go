package contact

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/page"
)

// uploadReadTime bounds how long reading one upload may take (the server's usual read timeout
// is too short for 200 MB over a slow link).
const uploadReadTime = 30 * time.Minute

// StartImportRequest is POST /v1/workspaces/{workspaceId}/contact-imports. The body is the CSV
// file (text/csv) or a multipart/form-data form with a file part and the options as fields;
// huma does not read it: the handler streams it to disk.
type StartImportRequest struct {
	WorkspacePath
	OnDuplicate string `query:"onDuplicate" enum:"skip,update" doc:"What a row whose number is already a contact does: skip (default) leaves the contact as it is; update fills in the row's non-empty fields, merges its attributes and adds its tags."`
	ListID      string `query:"listId" maxLength:"64" doc:"A list of the workspace that every imported row's contact joins (new and existing)."`
	Tags        string `query:"tags" maxLength:"2600" doc:"Comma-separated tags added to every contact the import creates or updates."`
	Mapping     string `query:"mapping" maxLength:"20000" doc:"A JSON object: column header → phone, name, firstName, lastName, email, timezone, tags, ignore or attribute:<name>. Columns not named are detected by header; the others become attributes." example:"{\"Mobile No\":\"phone\",\"Customer\":\"name\",\"Internal ref\":\"ignore\"}"`
	FileName    string `query:"fileName" maxLength:"200" doc:"The file's name, for display (text/csv bodies; a multipart part carries its own)."`
	ContentType string `header:"Content-Type"`
	hc          huma.Context
}

// Resolve keeps huma's context: the handler reads the body from it.
func (r *StartImportRequest) Resolve(ctx huma.Context) []error {
	r.hc = ctx
	return nil
}

// ImportOutput is one import.
type ImportOutput struct {
	Status int
	Body   Import
}

// maxFormField bounds a multipart option field.
const maxFormField = 64 << 10

// StartImport handles POST /v1/workspaces/{workspaceId}/contact-imports: 202 with the import.
func (h *HTTP) StartImport(ctx context.Context, in *StartImportRequest) (*ImportOutput, error) {
	opts := ImportOptions{OnDuplicate: in.OnDuplicate, ListID: in.ListID, FileName: in.FileName}
	if err := setOption(&opts, "tags", in.Tags); err != nil {
		return nil, err
	}
	if err := setOption(&opts, "mapping", in.Mapping); err != nil {
		return nil, err
	}
	if in.hc != nil {
		in.hc.SetReadDeadline(time.Now().Add(uploadReadTime))
	}
	var body io.Reader = http.NoBody
	if in.hc != nil {
		body = in.hc.BodyReader()
	}
	mt, params, _ := mime.ParseMediaType(in.ContentType)
	var up *Upload
	defer func() { up.Discard() }()
	var err error
	switch mt {
	case "multipart/form-data":
		if up, err = ReceiveImportForm(ctx, h.Svc, in.WorkspaceID, multipart.NewReader(body, params["boundary"]), &opts); err != nil {
			return nil, err
		}
	case "", "text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream":
		if up, err = h.Svc.ReceiveImport(ctx, in.WorkspaceID, in.FileName, body); err != nil {
			return nil, err
		}
	default:
		if _, err := h.Svc.StartImport(ctx, in.WorkspaceID, nil, opts); err != nil && !errors.Is(err, apierr.Invalid) {
			return nil, err
		}
		return nil, apierr.Validation(apierr.FieldError{Location: "header.Content-Type", Message: "text/csv or multipart/form-data", Value: in.ContentType})
	}
	imp, err := h.Svc.StartImport(ctx, in.WorkspaceID, up, opts)
	if err != nil {
		return nil, err
	}
	up = nil // the import has the file now
	return &ImportOutput{Status: http.StatusAccepted, Body: imp}, nil
}

// ReceiveImportForm reads a multipart/form-data upload: the file part (named file, or any part
// with a file name) is streamed to disk by svc.ReceiveImport (which checks the caller first),
// and the fields onDuplicate, listId, tags, mapping and fileName set opts. Errors: those of
// ReceiveImport, BadRequest bad_multipart, Invalid (two files, a field over 64 KB).
func ReceiveImportForm(ctx context.Context, svc *Service, wsID string, mr *multipart.Reader, opts *ImportOptions) (*Upload, error) {
	var up *Upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return up, nil
		}
		if err != nil {
			up.Discard()
			if up == nil {
				// Say who may not import before what is wrong with the form.
				if _, aerr := svc.StartImport(ctx, wsID, nil, *opts); aerr != nil && !errors.Is(aerr, apierr.Invalid) {
					return nil, aerr
				}
			}
			return nil, apierr.New(apierr.BadRequest, "bad_multipart", "the multipart body is malformed: "+err.Error())
		}
		if part.FileName() != "" || part.FormName() == "file" {
			if up != nil {
				up.Discard()
				return nil, apierr.Validation(apierr.FieldError{Location: "file", Message: "one file per import"})
			}
			if up, err = svc.ReceiveImport(ctx, wsID, part.FileName(), part); err != nil {
				return nil, err
			}
			continue
		}
		v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil || len(v) > maxFormField {
			up.Discard()
			return nil, apierr.Validation(apierr.FieldError{Location: part.FormName(), Message: "a form field of at most 64 KB"})
		}
		if err := setOption(opts, part.FormName(), string(v)); err != nil {
			up.Discard()
			return nil, err
		}
	}
}

// setOption sets an import option from its text form (a query parameter or a form field).
// Unknown form fields are ignored.
func setOption(o *ImportOptions, name, v string) error {
	switch name {
	case "onDuplicate":
		o.OnDuplicate = strings.TrimSpace(v)
	case "listId":
		o.ListID = strings.TrimSpace(v)
	case "fileName":
		o.FileName = v
	case "tags":
		o.Tags = nil
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				o.Tags = append(o.Tags, t)
			}
		}
	case "mapping":
		if strings.TrimSpace(v) == "" {
			o.Mapping = nil
			return nil
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return apierr.Validation(apierr.FieldError{Location: "mapping", Message: `a JSON object of column header → target, e.g. {"Mobile No":"phone"}`, Value: v})
		}
		o.Mapping = m
	}
	return nil
}

// ImportRequestBody documents the upload in the OpenAPI document (huma does not read it).
var ImportRequestBody = &huma.RequestBody{
	Description: "The CSV file, at most 200 MB: a text/csv body (options as query parameters), or multipart/form-data with a part named file " +
		"and optional fields onDuplicate, listId, tags and mapping (they override the query parameters).",
	Content: map[string]*huma.MediaType{
		"text/csv": {Schema: &huma.Schema{Type: "string"}},
		// No schema: huma would then read and decode the body itself; the fields are in the description.
		"multipart/form-data": {},
	},
}

// ImportPath names one of a workspace's imports.
type ImportPath struct {
	WorkspacePath
	ImportID string `path:"importId" maxLength:"64" doc:"The import's ID (imp_…)."`
}

// GetImport handles GET /v1/workspaces/{workspaceId}/contact-imports/{importId}.
func (h *HTTP) GetImport(ctx context.Context, in *ImportPath) (*ImportOutput, error) {
	imp, err := h.Svc.GetImport(ctx, in.WorkspaceID, in.ImportID)
	if err != nil {
		return nil, err
	}
	return &ImportOutput{Status: http.StatusOK, Body: imp}, nil
}

// ImportsOutput is a page of imports.
type ImportsOutput struct {
	Body page.Page[Import]
}

// ListImports handles GET /v1/workspaces/{workspaceId}/contact-imports.
func (h *HTTP) ListImports(ctx context.Context, in *PageRequest) (*ImportsOutput, error) {
	p, err := h.Svc.ListImports(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ImportsOutput{Body: p}, nil
}

// ImportErrors handles GET /v1/workspaces/{workspaceId}/contact-imports/{importId}/errors.csv.
func (h *HTTP) ImportErrors(ctx context.Context, in *ImportPath) (*huma.StreamResponse, error) {
	write, err := h.Svc.ImportErrors(ctx, in.WorkspaceID, in.ImportID)
	if err != nil {
		return nil, err
	}
	return h.streamCSV(ctx, in.ImportID+"-errors.csv", write), nil
}

// ImportErrorsResponses documents errors.csv in the OpenAPI document.
var ImportErrorsResponses = map[string]*huma.Response{
	"200": {Description: "The failed rows as CSV: " + strings.Join(ImportErrorColumns, ",") + " (line numbers of the file, counting the header as line 1).",
		Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}},
}
