package id_test

import (
	"testing"

	"github.com/parleyhq/parley/internal/platform/id"
)

func TestNewIsPrefixedUniqueAndSortable(t *testing.T) {
	a, b := id.New(id.Workspace), id.New(id.Workspace)
	if a == b {
		t.Fatal("two IDs are equal")
	}
	if !id.Valid(id.Workspace, a) || id.Valid(id.User, a) {
		t.Fatalf("Valid(%q) wrong", a)
	}
	if !(a < b) {
		t.Fatalf("IDs do not sort by creation: %s !< %s", a, b)
	}
	for _, bad := range []string{"", "ws_", "ws_notbase32!", "user_01jq3v5x8kf9r1t6m2c4d7e8gh", "ws01jq3v5x8kf9r1t6m2c4d7e8gh"} {
		if id.Valid(id.Workspace, bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}
