package page_test

import (
	"errors"
	"testing"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/page"
)

func TestFetchWalksPages(t *testing.T) {
	ids := []string{"e", "d", "c", "b", "a"} // newest first
	fetch := func(before string, n int) ([]string, error) {
		var out []string
		for _, id := range ids {
			if (before == "" || id < before) && len(out) < n {
				out = append(out, id)
			}
		}
		return out, nil
	}
	key := func(s string) string { return s }
	var got []string
	cursor := ""
	for range 10 {
		p, err := page.Fetch(cursor, 2, fetch, key)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Data...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(got) != 5 || got[0] != "e" || got[4] != "a" {
		t.Fatalf("walked %v", got)
	}
	if _, err := page.Fetch("!!!", 2, fetch, key); !errors.Is(err, apierr.Invalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	asked := 0
	_, _ = page.Fetch("", 1000, func(_ string, n int) ([]string, error) { asked = n; return nil, nil }, key)
	if asked != page.MaxLimit+1 {
		t.Fatalf("limit not clamped: asked for %d", asked)
	}
	if p, _ := page.Fetch("", 0, fetch, key); p.Data == nil || len(p.Data) != 5 {
		t.Fatalf("default limit page %v", p)
	}
}
