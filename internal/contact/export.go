package contact

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/authz"
)

// exportBatch is how many contacts the export reads at a time: memory stays flat whatever the
// size of the workspace, and no read transaction stays open for the whole download.
const exportBatch = 500

// ExportColumns are the export's first columns; one column per attribute name follows, sorted.
var ExportColumns = []string{"phone", "name", "email", "timezone", "tags", "doNotCall", "id", "createdAt", "updatedAt"}

// Export checks the caller and the filter and returns the writer of the CSV of the workspace's
// contacts that match f, newest first (every role; contacts:read; numbers masked for members
// when the workspace masks them). Errors come before any byte is written: NotFound, Forbidden,
// Invalid. The returned function's error means the CSV was cut short.
func (s *Service) Export(ctx context.Context, wsID string, f Filter) (func(w io.Writer) error, error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsRead)
	if err != nil {
		return nil, err
	}
	masked, err := s.viewer(ctx, p, wsID)
	if err != nil {
		return nil, err
	}
	if f, err = s.prepare(ctx, wsID, masked, f); err != nil {
		return nil, err
	}
	attrs, err := s.st.attributeNames(ctx, s.db.Read, wsID)
	if err != nil {
		return nil, err
	}
	return func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(append(append([]string{}, ExportColumns...), attrs...)); err != nil {
			return err
		}
		before := ""
		record := make([]string, len(ExportColumns)+len(attrs))
		for {
			rows, err := s.st.list(ctx, s.db.Read, wsID, f, before, exportBatch)
			if err != nil {
				return err
			}
			for _, c := range rows {
				phone := c.Phone
				if masked {
					phone = Mask(phone)
				}
				record = append(record[:0], phone, cell(c.Name), cell(c.Email), c.Timezone, cell(strings.Join(c.Tags, ",")),
					strconv.FormatBool(c.DoNotCall), c.ID, c.CreatedAt.Format(time.RFC3339), c.UpdatedAt.Format(time.RFC3339))
				for _, a := range attrs {
					v, ok := c.Attributes[a]
					if !ok {
						record = append(record, "")
						continue
					}
					record = append(record, cell(valueText(v)))
				}
				if err := cw.Write(record); err != nil {
					return err
				}
			}
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			if len(rows) < exportBatch {
				return nil
			}
			before = rows[len(rows)-1].ID
		}
	}, nil
}

// cell defuses text a spreadsheet would run as a formula (=, @, tab, CR at the start) with a
// leading apostrophe. + and - are left alone: numbers and phone numbers start with them.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
