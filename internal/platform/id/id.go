// Package id makes Parley's identifiers: a type prefix and a UUIDv7 in base32 (TypeID), e.g.
// ws_01jq3v5x8kf9r1t6m2c4d7e8gh. IDs sort by creation time and never reveal a count.
package id

import (
	"fmt"
	"strings"

	"go.jetify.com/typeid"
)

// Prefixes of the resources the platform names. Each capability uses its own.
const (
	Workspace   = "ws"
	User        = "user"
	Session     = "sess"
	Audit       = "audit"
	Event       = "evt"
	Mail        = "mail"
	Request     = "req"
	APIKey      = "key"
	Agent       = "agent"
	ProviderKey = "pkey"
	Contact     = "contact"
	ContactList = "list"
	DNC         = "dnc"
	Transfer    = "xfer"
	Hold        = "hold"
	Webhook     = "whep"
	Message     = "msg"
	Attempt     = "atmpt"
	Credential  = "tcred"
	Number      = "num"
	Call        = "call"
	Trigger     = "trig"
)

// New returns a new ID with the prefix.
func New(prefix string) string {
	tid, err := typeid.WithPrefix(prefix)
	if err != nil {
		// Only an invalid constant prefix can fail; that is a programming error.
		panic(fmt.Sprintf("id: invalid prefix %q: %v", prefix, err))
	}
	return tid.String()
}

// Valid reports whether s is a well-formed ID with the prefix.
func Valid(prefix, s string) bool {
	if !strings.HasPrefix(s, prefix+"_") {
		return false
	}
	tid, err := typeid.FromString(s)
	return err == nil && tid.Prefix() == prefix
}
