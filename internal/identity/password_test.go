package identity

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHashRoundTripWithOWASPParameters(t *testing.T) {
	h, err := hashPassword("correct horse battery", DefaultHashParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not record OWASP parameters", h)
	}
	if ok, err := verifyPassword("correct horse battery", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := verifyPassword("correct horse batterx", h); ok {
		t.Fatal("wrong password verified")
	}
	h2, _ := hashPassword("correct horse battery", DefaultHashParams)
	if h2 == h {
		t.Fatal("two hashes of one password are equal (no salt?)")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=x,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaA"} {
		if _, err := verifyPassword("x", bad); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	cases := map[string]bool{
		"short":                    false,
		"elevenchars":              false,
		"twelve chars":             true,
		"password1234":             false, // common
		"PASSWORD1234":             false, // common, any case
		"aaaaaaaaaaaa":             false, // repetitive
		"123456789012":             false, // sequence
		"abcdefghijklmn":           false,
		"ada.lovelace1":            false, // the email's local part
		"ada.lovelace and a poem!": true,
		strings.Repeat("x", 257):   false,
		"ünïcödé pässwörd":         true,
	}
	for pw, ok := range cases {
		if got := checkPassword(pw, "ada.lovelace@example.com") == ""; got != ok {
			t.Errorf("checkPassword(%q) acceptable = %v, want %v", pw, got, ok)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{"Ada@Example.COM": "ada@example.com", "  b@c.io ": "b@c.io"} {
		if _, key, err := normalizeEmail(in); err != nil || key != want {
			t.Errorf("normalizeEmail(%q) = %q, %v", in, key, err)
		}
	}
	for _, bad := range []string{"", "a", "a@b", "Ada <a@b.com>", "a@@b.com", "a b@c.com"} {
		if _, _, err := normalizeEmail(bad); err == nil {
			t.Errorf("normalizeEmail(%q) accepted", bad)
		}
	}
}

func TestThrottle(t *testing.T) {
	th := newThrottle(60e9, 3)
	now := timeZero()
	for i := 0; i < 3; i++ {
		if w := th.wait("k", now); w != 0 {
			t.Fatalf("attempt %d must wait %v", i, w)
		}
		th.hit("k", now)
	}
	if w := th.wait("k", now); w <= 0 || w > 60e9 {
		t.Fatalf("after the burst: wait %v", w)
	}
	if w := th.wait("other", now); w != 0 {
		t.Fatal("keys share a bucket")
	}
	if w := th.wait("k", now.Add(61e9)); w != 0 {
		t.Fatalf("after refill: wait %v", w)
	}
}

func timeZero() (t time.Time) { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
