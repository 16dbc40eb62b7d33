package providertest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Helpers the adapters' own tests and fakes share.

// MustNew builds an adapter with newFn (a package's New) and fails t when it refuses cfg.
func MustNew(t testing.TB, newFn func(telephony.Config) (telephony.Provider, error), cfg telephony.Config) telephony.Provider {
	t.Helper()
	p, err := newFn(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// ProviderError returns err as a *telephony.ProviderError, failing t when it is not one.
func ProviderError(t testing.TB, err error) *telephony.ProviderError {
	t.Helper()
	var pe *telephony.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *telephony.ProviderError", err, err)
	}
	return pe
}

// NewServer starts a fake's HTTP server, stopped when the test ends.
func NewServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// Recorder is the bookkeeping every fake shares; embed it to get FailNext, Placed and HungUp of
// Fake. The fake's handler calls TakeFailure first, records what it accepts with AddPlaced and
// AddHungUp. It is safe for concurrent use (it has its own lock, never held while calling out).
type Recorder struct {
	mu         sync.Mutex
	failStatus int
	failRetry  time.Duration
	placed     []PlacedCall
	hungUp     []string
}

// FailNext arms the failure the next API request gets (see Fake).
func (r *Recorder) FailNext(status int, retryAfter time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failStatus, r.failRetry = status, retryAfter
}

// TakeFailure disarms the failure FailNext armed and returns its HTTP status (0 when none). When
// it came with a Retry-After, the header (whole seconds) is set on w; the caller writes the
// provider's error body for the status.
func (r *Recorder) TakeFailure(w http.ResponseWriter) int {
	r.mu.Lock()
	status, retry := r.failStatus, r.failRetry
	r.failStatus, r.failRetry = 0, 0
	r.mu.Unlock()
	if status != 0 && retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
	}
	return status
}

// AddPlaced records a create-call request the fake accepted.
func (r *Recorder) AddPlaced(pc PlacedCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.placed = append(r.placed, pc)
}

// Placed returns the create-call requests recorded, in order.
func (r *Recorder) Placed() []PlacedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PlacedCall(nil), r.placed...)
}

// AddHungUp records a hang-up request the fake accepted.
func (r *Recorder) AddHungUp(providerCallID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hungUp = append(r.hungUp, providerCallID)
}

// HungUp returns the provider call IDs of the hang-ups recorded, in order.
func (r *Recorder) HungUp() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hungUp...)
}

// SortedParams is the concatenation name+value of form's parameters sorted by name (the first
// value of each), as form-signing providers (Twilio, Plivo) sign them.
func SortedParams(form url.Values) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(form)) {
		b.WriteString(k + form.Get(k))
	}
	return b.String()
}

// WithParam returns a copy of form with key set to value (to tamper with a signed body).
func WithParam(form url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set(key, value)
	return out
}

// Element is an element of a markup response (TwiML, Plivo XML).
type Element struct {
	Name  string
	Attrs map[string]string
	// Text is the character data directly inside the element.
	Text     string
	Children []Element
}

// Verbs parses a markup response and returns the elements of its <Response> root, in order. t
// fails when the body does not parse or its root is not <Response>.
func Verbs(t testing.TB, body []byte) []Element {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	root := &Element{}
	stack := []*Element{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("markup does not parse: %v\n%s", err, body)
		}
		top := stack[len(stack)-1]
		switch el := tok.(type) {
		case xml.StartElement:
			if len(stack) == 1 && el.Name.Local != "Response" {
				t.Fatalf("markup root is <%s>, want <Response>", el.Name.Local)
			}
			e := Element{Name: el.Name.Local, Attrs: map[string]string{}}
			for _, a := range el.Attr {
				e.Attrs[a.Name.Local] = a.Value
			}
			top.Children = append(top.Children, e)
			stack = append(stack, &top.Children[len(top.Children)-1])
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.Text += string(el)
		}
	}
	if len(root.Children) != 1 {
		t.Fatalf("markup has %d root elements, want one <Response>\n%s", len(root.Children), body)
	}
	return root.Children[0].Children
}

// NodeSDK prepares a provider's official npm package for a test that cross-checks the adapter
// with it: it returns the node binary and a directory whose node_modules holds pkg. The
// directory is the one named by the environment variable env when set, otherwise a temporary
// one pkg (name@version) is installed into with npm. need is the path under node_modules that
// must exist. The test is skipped in -short mode, without node or npm, or when the install fails
// (offline).
func NodeSDK(t *testing.T, env, pkg, need string) (node, dir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	dir = os.Getenv(env)
	if dir == "" {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Skip("npm is not installed")
		}
		dir = t.TempDir()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "install", "--prefer-offline", "--no-audit", "--no-fund", "--silent", pkg)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("npm install %s failed (offline?): %v\n%s", pkg, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(need))); err != nil {
		t.Skipf("%s not in %s/node_modules", need, dir)
	}
	return node, dir
}

// RunNode runs a node script (node -e script args…) in dir and returns its standard output; t
// fails when node fails.
func RunNode(t *testing.T, node, dir, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), node, append([]string{"-e", script}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("node: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("node: %v", err)
	}
	return out
}
