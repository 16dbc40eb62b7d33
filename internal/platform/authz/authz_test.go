package authz_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// expected is the contract, written out independently of Matrix: "OAM" lists which of
// Owner, Admin, Member may act ('-' = may not).
var expected = map[authz.Action]struct {
	oam   string
	scope string
}{
	authz.WorkspaceView:      {"OAM", "*"},
	authz.WorkspaceUpdate:    {"OA-", ""},
	authz.WorkspaceDelete:    {"O--", ""},
	authz.OwnershipTransfer:  {"O--", ""},
	authz.MembersView:        {"OAM", ""},
	authz.MembersManage:      {"OA-", ""},
	authz.APIKeysManage:      {"OA-", ""},
	authz.AuditRead:          {"OA-", ""},
	authz.BillingView:        {"OAM", "usage:read"},
	authz.BillingManage:      {"O--", ""},
	authz.SettingsRead:       {"OAM", "agents:read"},
	authz.SettingsWrite:      {"OA-", ""},
	authz.AgentsRead:         {"OAM", "agents:read"},
	authz.AgentsUse:          {"OAM", "calls:write"},
	authz.AgentsWrite:        {"OA-", "agents:write"},
	authz.ProviderKeysManage: {"OA-", ""},
	authz.ContactsRead:       {"OAM", "contacts:read"},
	authz.ContactsWrite:      {"OA-", "contacts:write"},
	authz.WebhooksRead:       {"OA-", "webhooks:read"},
	authz.WebhooksWrite:      {"OA-", "webhooks:write"},
	authz.TelephonyRead:      {"OAM", "calls:read"},
	authz.TelephonyManage:    {"OA-", ""},
	authz.CallsRead:          {"OAM", "calls:read"},
	authz.CallsWrite:         {"OAM", "calls:write"},
	authz.CampaignsRead:      {"OAM", "campaigns:read"},
	authz.CampaignsWrite:     {"OA-", "campaigns:write"},
}

func lookupFixed(roles map[string]authz.Role) authz.RoleLookup {
	return func(_ context.Context, _ string, ws string) (authz.Role, bool, error) {
		r, ok := roles[ws]
		return r, ok, nil
	}
}

func TestMatrixEveryRoleEveryAction(t *testing.T) {
	if len(expected) != len(authz.Matrix) {
		t.Fatalf("matrix has %d actions, contract lists %d: add the new row to both", len(authz.Matrix), len(expected))
	}
	for action, want := range expected {
		for i, role := range authz.Roles {
			p := authz.NewUser("user_1", "", lookupFixed(map[string]authz.Role{"ws_1": role}))
			ctx := authz.WithPrincipal(context.Background(), p)
			_, err := authz.Require(ctx, "ws_1", action)
			allowed := want.oam[i] != '-'
			switch {
			case allowed && err != nil:
				t.Errorf("%s as %s: denied (%v), want allowed", action, role, err)
			case !allowed && !errors.Is(err, apierr.Forbidden):
				t.Errorf("%s as %s: err = %v, want Forbidden", action, role, err)
			}
			// Any role, another workspace: not found, never forbidden.
			if _, err := authz.Require(ctx, "ws_2", action); !errors.Is(err, apierr.NotFound) {
				t.Errorf("%s as %s of another workspace: err = %v, want NotFound", action, role, err)
			}
		}
	}
}

func TestAPIKeysAreConfinedToWorkspaceAndScopes(t *testing.T) {
	for action, want := range expected {
		all := authz.NewAPIKey("key_1", "ws_1", "user_1", []string{"agents:read", "agents:write", "calls:read", "calls:write", "contacts:read", "contacts:write", "campaigns:read", "campaigns:write", "usage:read", "webhooks:read", "webhooks:write"})
		ctx := authz.WithPrincipal(context.Background(), all)
		_, err := authz.Require(ctx, "ws_1", action)
		if want.scope == "" && !errors.Is(err, apierr.Forbidden) {
			t.Errorf("%s by an all-scope key: err = %v, want Forbidden (keys may never)", action, err)
		}
		if want.scope != "" && err != nil {
			t.Errorf("%s by a key with %s: err = %v", action, want.scope, err)
		}
		if _, err := authz.Require(ctx, "ws_2", action); !errors.Is(err, apierr.NotFound) {
			t.Errorf("%s by another workspace's key: err = %v, want NotFound", action, err)
		}
		// A key with one unrelated scope.
		other := authz.WithPrincipal(context.Background(), authz.NewAPIKey("key_2", "ws_1", "user_1", []string{"unrelated:read"}))
		_, err = authz.Require(other, "ws_1", action)
		if want.scope == "*" && err != nil {
			t.Errorf("%s by any key: err = %v, want allowed", action, err)
		}
		if want.scope != "*" && !errors.Is(err, apierr.Forbidden) {
			t.Errorf("%s by a key without its scope: err = %v, want Forbidden", action, err)
		}
	}
}

func TestNoPrincipalAndSystem(t *testing.T) {
	if _, err := authz.Require(context.Background(), "ws_1", authz.WorkspaceView); !errors.Is(err, apierr.Unauthenticated) {
		t.Fatalf("no principal: %v", err)
	}
	sys := authz.WithPrincipal(context.Background(), authz.System())
	if _, err := authz.Require(sys, "ws_any", authz.WorkspaceDelete); err != nil {
		t.Fatalf("system: %v", err)
	}
	if _, err := authz.Require(sys, "ws_any", authz.Action("nope")); err == nil {
		t.Fatal("an action without a matrix row was allowed")
	}
}

func TestRoleLookupIsCachedPerPrincipal(t *testing.T) {
	calls := 0
	p := authz.NewUser("user_1", "", func(context.Context, string, string) (authz.Role, bool, error) {
		calls++
		return authz.Admin, true, nil
	})
	ctx := authz.WithPrincipal(context.Background(), p)
	for range 3 {
		if _, err := authz.Require(ctx, "ws_1", authz.WorkspaceUpdate); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("lookup called %d times, want 1", calls)
	}
}
