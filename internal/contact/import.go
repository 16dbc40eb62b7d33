package contact

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// Import limits and defaults.
const (
	// MaxImportBytes bounds an uploaded CSV file (413 beyond it).
	MaxImportBytes = 200 << 20
	// DefaultImportBatch is how many rows one transaction of an import writes.
	DefaultImportBatch = 1000
	// maxErrorValue bounds the value kept for a failed row.
	maxErrorValue = 200
)

// Import statuses.
const (
	ImportQueued    = "queued"
	ImportRunning   = "running"
	ImportCompleted = "completed"
	ImportFailed    = "failed"
)

// What a row does when its number is already a contact of the workspace.
const (
	OnDuplicateSkip   = "skip"
	OnDuplicateUpdate = "update"
)

// Import is a CSV import of contacts.
type Import struct {
	ID          string `json:"id" example:"imp_01jq3v5x8kf9r1t6m2c4d7e8gh"`
	WorkspaceID string `json:"workspaceId"`
	Status      string `json:"status" enum:"queued,running,completed,failed"`
	FileName    string `json:"fileName" example:"contacts.csv"`
	FileSize    int64  `json:"fileSize" doc:"Bytes."`
	// Counts: total is known at upload; processed = created + updated + skipped + failed.
	Total     int64 `json:"total" doc:"Data rows in the file (blank lines not counted)."`
	Processed int64 `json:"processed"`
	Created   int64 `json:"created"`
	Updated   int64 `json:"updated" doc:"Existing contacts the row changed (onDuplicate update)."`
	Skipped   int64 `json:"skipped" doc:"Rows whose number was already a contact and that changed nothing."`
	Failed    int64 `json:"failed" doc:"Rows refused; GET …/errors.csv says why."`
	// Error is why a failed import stopped ("" otherwise).
	Error       string         `json:"error,omitempty"`
	OnDuplicate string         `json:"onDuplicate" enum:"skip,update"`
	ListID      string         `json:"listId,omitempty"`
	Tags        []string       `json:"tags"`
	Delimiter   string         `json:"delimiter" doc:"Detected from the header line: , ; or a tab."`
	Columns     []ImportColumn `json:"columns" doc:"What each column of the file becomes."`
	CreatedBy   string         `json:"createdBy"`
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
	StartedAt   *time.Time     `json:"startedAt,omitempty"`
	FinishedAt  *time.Time     `json:"finishedAt,omitempty"`
}

// ImportColumn is one column of an import's file and what it becomes.
type ImportColumn struct {
	Header string `json:"header"`
	// Target is phone, name, firstName, lastName, email, timezone, tags, attribute or ignore.
	Target string `json:"target" enum:"phone,name,firstName,lastName,email,timezone,tags,attribute,ignore"`
	// Attribute is the attribute's name when Target is attribute.
	Attribute string `json:"attribute,omitempty"`
}

// ImportError is one failed row of an import.
type ImportError struct {
	Line   int64  `json:"line"`
	Column string `json:"column"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// ImportOptions are the options of an import.
type ImportOptions struct {
	// FileName is the uploaded file's name (for display).
	FileName string
	// OnDuplicate is skip (default) or update.
	OnDuplicate string
	// ListID, when set, is a list of the workspace every imported row's contact joins.
	ListID string
	// Tags are added to every contact the import creates or updates.
	Tags []string
	// Mapping maps a column header to its target (phone, name, firstName, lastName, email,
	// timezone, tags, ignore, or attribute:<name>); columns not named are detected.
	Mapping map[string]string
}

// Targets of a column.
const (
	targetPhone     = "phone"
	targetName      = "name"
	targetFirstName = "firstName"
	targetLastName  = "lastName"
	targetEmail     = "email"
	targetTimezone  = "timezone"
	targetTags      = "tags"
	targetAttribute = "attribute"
	targetIgnore    = "ignore"
)

// headerAliases are the header names (lower case, letters and digits only) each target is
// detected from.
var headerAliases = map[string][]string{
	targetPhone: {"phone", "phonenumber", "phoneno", "phonenum", "mobile", "mobilenumber", "mobileno", "mobilephone", "cell", "cellphone",
		"cellnumber", "telephone", "telephonenumber", "tel", "msisdn", "contactnumber", "number", "whatsapp", "whatsappnumber", "e164"},
	targetName:      {"name", "fullname", "contactname", "customername", "displayname"},
	targetFirstName: {"firstname", "givenname", "first", "forename"},
	targetLastName:  {"lastname", "surname", "familyname", "last"},
	targetEmail:     {"email", "emailaddress", "mail", "emailid"},
	targetTimezone:  {"timezone", "tz", "timezonename", "zone"},
	targetTags:      {"tags", "tag", "labels", "label"},
	// The export's own columns that an import does not take (re-importing an export works).
	targetIgnore: {"id", "createdat", "updatedat", "donotcall"},
}

var aliasTarget = func() map[string]string {
	m := map[string]string{}
	for t, names := range headerAliases {
		for _, n := range names {
			m[n] = t
		}
	}
	return m
}()

func headerKey(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// attributeFromHeader makes an attribute name of a header: lower case, runs of other characters
// become _, a leading digit gets a _ before it ("Customer Plan" → customer_plan).
func attributeFromHeader(h string, index int) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		if r < utf8.RuneSelf && (r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
	}
	name := strings.TrimRight(b.String(), "_")
	if name == "" {
		name = fmt.Sprintf("column_%d", index+1)
	}
	if name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// planColumns decides what each column becomes: the mapping first, then detection by header
// name; every other column is an attribute named after its header. Errors: Invalid.
func planColumns(header []string, mapping map[string]string) ([]ImportColumn, error) {
	cols := make([]ImportColumn, len(header))
	used := map[string]string{} // target or attribute:name → header
	var errs []apierr.FieldError
	byHeader := map[string]int{}
	for i, h := range header {
		byHeader[strings.TrimSpace(h)] = i
	}
	for _, h := range slices.Sorted(maps.Keys(mapping)) {
		if _, ok := byHeader[strings.TrimSpace(h)]; !ok {
			errs = append(errs, apierr.FieldError{Location: "mapping", Message: "no column has this header", Value: h})
		}
	}
	for i, raw := range header {
		h := strings.TrimSpace(raw)
		c := ImportColumn{Header: h}
		if m, ok := mapping[h]; ok {
			switch {
			case strings.HasPrefix(m, "attribute:"):
				c.Target, c.Attribute = targetAttribute, strings.TrimPrefix(m, "attribute:")
			case slices.Contains([]string{targetPhone, targetName, targetFirstName, targetLastName, targetEmail, targetTimezone, targetTags, targetIgnore}, m):
				c.Target = m
			default:
				errs = append(errs, apierr.FieldError{Location: "mapping." + h, Message: "phone, name, firstName, lastName, email, timezone, tags, ignore or attribute:<name>", Value: m})
				continue
			}
		} else if t, ok := aliasTarget[headerKey(h)]; ok && used[t] == "" {
			c.Target = t
		} else {
			c.Target, c.Attribute = targetAttribute, attributeFromHeader(h, i)
		}
		key := c.Target
		switch c.Target {
		case targetIgnore:
			key = ""
		case targetAttribute:
			key = "attribute:" + c.Attribute
			if !attributeName.MatchString(c.Attribute) {
				errs = append(errs, apierr.FieldError{Location: "mapping." + h, Message: "an attribute name is a letter or _ then up to 63 letters, digits or _", Value: c.Attribute})
			} else if slices.Contains(reservedAttributes, strings.ToLower(c.Attribute)) {
				errs = append(errs, apierr.FieldError{Location: "mapping." + h, Message: "this name is a contact field; map the column to it or to another attribute name", Value: c.Attribute})
			}
		}
		if key != "" {
			if other, dup := used[key]; dup {
				errs = append(errs, apierr.FieldError{Location: "columns", Message: fmt.Sprintf("columns %q and %q both become %s: map one of them elsewhere (or to ignore)", other, h, key), Value: h})
			}
			used[key] = h
		}
		cols[i] = c
	}
	if used[targetPhone] == "" && len(errs) == 0 {
		errs = append(errs, apierr.FieldError{Location: "columns", Message: "no phone column: name one in the header (phone, mobile, …) or map one with mapping",
			Value: strings.Join(header, ",")})
	}
	attrs := 0
	for _, c := range cols {
		if c.Target == targetAttribute {
			attrs++
		}
	}
	if attrs > MaxAttributes {
		errs = append(errs, apierr.FieldError{Location: "columns", Message: fmt.Sprintf("at most %d attribute columns (map the others to ignore)", MaxAttributes)})
	}
	if len(errs) > 0 {
		return nil, apierr.Validation(errs...)
	}
	return cols, nil
}

// The UTF-8 byte order mark some programs write first.
var bom = []byte{0xEF, 0xBB, 0xBF}

// detectDelimiter picks ',', ';' or tab: the one the header line holds most of, outside
// quotes (',' when none).
func detectDelimiter(line []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, b := range line {
		switch {
		case b == '"':
			quoted = !quoted
		case !quoted && (b == ',' || b == ';' || b == '\t'):
			counts[rune(b)]++
		}
	}
	best := ','
	for _, d := range []rune{';', '\t'} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return best
}

// csvReader reads records of the import's file from offset on, numbering lines from line.
type csvReader struct {
	r        *csv.Reader
	base     int64 // file offset where r started
	baseLine int64 // line number of r's first line
}

func newCSVReader(rd io.Reader, delim rune, offset, line int64) *csvReader {
	r := csv.NewReader(bufio.NewReaderSize(rd, 256<<10))
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.LazyQuotes = false
	return &csvReader{r: r, base: offset, baseLine: line}
}

// next returns the next record that is not blank (every field empty or spaces), its line, and
// where the record after it starts (offset and line). io.EOF at the end. A malformed record
// is an error naming its line.
func (c *csvReader) next() (rec []string, line, nextOffset, nextLine int64, err error) {
	for {
		rec, err = c.r.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if pe.StartLine != pe.Line {
					return nil, 0, 0, 0, fmt.Errorf("line %d (the record that starts there, to line %d): %w", c.baseLine+int64(pe.StartLine)-1, c.baseLine+int64(pe.Line)-1, pe.Err)
				}
				return nil, 0, 0, 0, fmt.Errorf("line %d: %w", c.baseLine+int64(pe.Line)-1, pe.Err)
			}
			return nil, 0, 0, 0, err
		}
		l, _ := c.r.FieldPos(0)
		line = c.baseLine + int64(l) - 1
		last := len(rec) - 1
		endLine, _ := c.r.FieldPos(last)
		end := c.baseLine + int64(endLine) - 1 + int64(strings.Count(rec[last], "\n"))
		nextOffset, nextLine = c.base+c.r.InputOffset(), end+1
		if !blank(rec) {
			return rec, line, nextOffset, nextLine, nil
		}
	}
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// scanned is what a first pass over an uploaded file learns.
type scanned struct {
	delim      rune
	header     []string
	dataOffset int64 // where the first record after the header starts
	dataLine   int64
	total      int64
}

// scanFile reads the whole file once: the delimiter (from the header line), the header, and
// the number of data records; it refuses a file that is not CSV, naming the line.
func scanFile(f io.ReadSeeker) (scanned, error) {
	var sc scanned
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return sc, err
	}
	head = head[:n]
	start := int64(0)
	if bytes.HasPrefix(head, bom) {
		start = int64(len(bom))
		head = head[len(bom):]
	}
	// The header line: skip blank lines before it.
	rest := head
	for len(rest) > 0 && (rest[0] == '\n' || rest[0] == '\r') {
		rest = rest[1:]
	}
	firstLine := rest
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		firstLine = rest[:i]
	}
	if len(bytes.TrimSpace(firstLine)) == 0 {
		return sc, apierr.Validation(apierr.FieldError{Location: "file", Message: "the file is empty: the first line is the header (phone,name,…)"})
	}
	sc.delim = detectDelimiter(firstLine)
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return sc, err
	}
	r := newCSVReader(f, sc.delim, start, 1)
	rec, line, off, nextLine, err := r.next()
	if err != nil {
		return sc, badFile(err)
	}
	for i, h := range rec {
		if !utf8.ValidString(h) {
			return sc, apierr.Validation(apierr.FieldError{Location: "file", Message: fmt.Sprintf("line %d: the header is not UTF-8 text: save the file as UTF-8 (CSV UTF-8)", line),
				Value: strings.ToValidUTF8(rec[i], "\uFFFD")})
		}
	}
	sc.header = slices.Clone(rec)
	sc.dataOffset, sc.dataLine = off, nextLine
	for {
		_, _, _, _, err := r.next()
		if errors.Is(err, io.EOF) {
			return sc, nil
		}
		if err != nil {
			return sc, badFile(err)
		}
		sc.total++
	}
}

func badFile(err error) error {
	if errors.Is(err, io.EOF) {
		return apierr.Validation(apierr.FieldError{Location: "file", Message: "the file is empty: the first line is the header (phone,name,…)"})
	}
	return apierr.Validation(apierr.FieldError{Location: "file", Message: "not a CSV file: " + err.Error()})
}

// rowInput turns a record into what creating its contact takes, by the plan. ok is false with
// the failing column, value and reason for a row that is not UTF-8 text.
func rowInput(cols []ImportColumn, rec []string, extraTags []string) (in CreateInput, col, value, reason string) {
	var first, last string
	in.Tags = append(in.Tags, extraTags...)
	for i, c := range cols {
		if i >= len(rec) {
			break
		}
		v := strings.TrimSpace(rec[i])
		if v == "" {
			continue
		}
		if !utf8.ValidString(v) {
			return CreateInput{}, c.Header, strings.ToValidUTF8(v, "\uFFFD"), "not UTF-8 text: save the file as UTF-8 (CSV UTF-8)"
		}
		switch c.Target {
		case targetPhone:
			in.Phone = v
		case targetName:
			in.Name = v
		case targetFirstName:
			first = v
		case targetLastName:
			last = v
		case targetEmail:
			in.Email = v
		case targetTimezone:
			in.Timezone = v
		case targetTags:
			for t := range strings.SplitSeq(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					in.Tags = append(in.Tags, t)
				}
			}
		case targetAttribute:
			if in.Attributes == nil {
				in.Attributes = map[string]any{}
			}
			in.Attributes[c.Attribute] = v
		}
	}
	if in.Name == "" && (first != "" || last != "") {
		in.Name = strings.TrimSpace(first + " " + last)
	}
	return in, "", "", ""
}

// rowError explains why newContact refused a row: the column (by header), value and reason.
func rowError(cols []ImportColumn, in CreateInput, err error) (col, value, reason string) {
	var ae *apierr.Error
	if !errors.As(err, &ae) || len(ae.Fields) == 0 {
		return "", "", err.Error()
	}
	fe := ae.Fields[0]
	field := strings.TrimPrefix(fe.Location, "body.")
	target, attr, _ := strings.Cut(field, ".")
	if target == "tags" || strings.HasPrefix(target, "tags[") {
		target = targetTags
	}
	for _, c := range cols {
		if c.Target == target || (target == targetName && (c.Target == targetFirstName || c.Target == targetLastName)) ||
			(target == "attributes" && c.Target == targetAttribute && (attr == "" || c.Attribute == attr)) {
			col = c.Header
			break
		}
	}
	if col == "" && target == targetTags {
		col = "tags"
	}
	switch v := fe.Value.(type) {
	case string:
		value = v
	case nil:
		switch target {
		case targetPhone:
			value = in.Phone
		case targetName:
			value = in.Name
		case "attributes":
			if s, ok := in.Attributes[attr].(string); ok {
				value = s
			}
		}
	default:
		value = fmt.Sprint(v)
	}
	return col, value, fe.Message
}

func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxErrorValue {
		return s
	}
	return string([]rune(s)[:maxErrorValue]) + "…"
}
