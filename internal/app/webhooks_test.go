package app

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/webhook"
)

// delivery is one request a test receiver got.
type delivery struct {
	Path    string
	Headers map[string]string
	Body    string
}

// hookReceiver is a local webhook endpoint: per path, the statuses to answer in turn (200 after).
type hookReceiver struct {
	mu       sync.Mutex
	statuses map[string][]int
	got      []delivery
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	d := delivery{Path: r.URL.Path, Body: string(b), Headers: map[string]string{}}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature", "Parley-Workspace-Id", "Parley-Event-Type", "X-Tenant"} {
		d.Headers[strings.ToLower(k)] = r.Header.Get(k)
	}
	h.got = append(h.got, d)
	status := 200
	if q := h.statuses[r.URL.Path]; len(q) > 0 {
		status, h.statuses[r.URL.Path] = q[0], q[1:]
	}
	h.mu.Unlock()
	w.WriteHeader(status)
}

func (h *hookReceiver) at(path string) []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []delivery
	for _, d := range h.got {
		if d.Path == path {
			out = append(out, d)
		}
	}
	return out
}

// startWorkers runs the job queue and the webhook dispatcher for the test.
func (e *env) startWorkers(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.srv.StartWorkers(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		e.srv.StopWorkers(stop)
		cancel()
	})
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWebhooksEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		rc := &hookReceiver{statuses: map[string][]int{"/sub": {500}, "/gone": {410}}}
		hs := httptest.NewServer(rc)
		defer hs.Close()
		e.startWorkers(t)

		owner := e.signup("owner")
		ws := owner.workspace("Hooked")
		base := "/v1/workspaces/" + ws + "/webhooks"

		sub := owner.must(201, "POST", base, map[string]any{"url": hs.URL + "/sub", "description": "CRM", "events": []string{"workspace.updated", "agent.created"},
			"headers": map[string]string{"X-Tenant": "acme"}})
		unsub := owner.must(201, "POST", base, map[string]any{"url": hs.URL + "/unsub", "events": []string{"member.invited"}})
		gone := owner.must(201, "POST", base, map[string]any{"url": hs.URL + "/gone", "events": []string{"agent.created"}})
		subID, secret := sub["id"].(string), sub["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") || sub["enabled"] != true {
			t.Fatalf("created %v", sub)
		}
		if r := owner.must(200, "POST", base+"/"+subID+"/reveal-secret", nil); r["secret"] != secret {
			t.Errorf("reveal-secret = %v", r)
		}
		list := owner.must(200, "GET", base, nil)
		if n := len(list["data"].([]any)); n != 3 || strings.Contains(mustJSON(list), "whsec_") {
			t.Errorf("list: %d endpoints, or a secret in it", n)
		}
		// The catalog.
		cat := owner.must(200, "GET", "/v1/webhook-event-types", nil)
		if n := len(cat["data"].([]any)); n < 25 {
			t.Errorf("catalog has %d types", n)
		}
		// http is accepted only because the test server allows private addresses; bad input is 422.
		if r := owner.do("POST", base, map[string]any{"url": hs.URL, "events": []string{"nope.nope"}}); r.Status != 422 {
			t.Errorf("unknown event type: %d", r.Status)
		}

		owner.must(200, "PATCH", "/v1/workspaces/"+ws, map[string]any{"name": "Hooked Inc"})
		agent := owner.must(201, "POST", "/v1/workspaces/"+ws+"/agents", map[string]any{"name": "Front desk"})

		// /sub gets both events; the first attempt answers 500 and is retried with the same id.
		waitFor(t, "both events delivered to /sub", 40*time.Second, func() bool {
			ok := map[string]bool{}
			for _, d := range rc.at("/sub") {
				ok[d.Headers["parley-event-type"]] = true
			}
			return ok["workspace.updated"] && ok["agent.created"] && len(rc.at("/sub")) >= 3
		})
		got := rc.at("/sub")
		first := got[0].Headers["webhook-id"]
		seen := 0
		for _, d := range got {
			if d.Headers["webhook-id"] == first {
				seen++
			}
			if d.Headers["parley-workspace-id"] != ws || d.Headers["x-tenant"] != "acme" {
				t.Errorf("headers %v", d.Headers)
			}
			var env map[string]any
			if err := json.Unmarshal([]byte(d.Body), &env); err != nil || env["type"] != d.Headers["parley-event-type"] || env["workspaceId"] != ws {
				t.Errorf("envelope %s", d.Body)
			}
			ts, _ := strconv.ParseInt(d.Headers["webhook-timestamp"], 10, 64)
			if !webhook.Verify(secret, d.Headers["webhook-signature"], d.Headers["webhook-id"], ts, []byte(d.Body)) {
				t.Errorf("delivery %s does not verify", d.Headers["webhook-id"])
			}
		}
		if seen != 2 {
			t.Errorf("the message answered 500 was sent %d times, want 2 with the same webhook-id", seen)
		}
		if !strings.Contains(mustJSON(got), agent["id"].(string)) {
			t.Error("agent.created does not carry the agent")
		}

		// /gone answered 410: disabled at once, with the reason.
		waitFor(t, "the 410 endpoint disabled", 20*time.Second, func() bool {
			return owner.must(200, "GET", base+"/"+gone["id"].(string), nil)["enabled"] == false
		})
		if n := len(rc.at("/gone")); n != 1 {
			t.Errorf("/gone got %d requests, want 1 (no retry after 410)", n)
		}
		if n := len(rc.at("/unsub")); n != 0 {
			t.Errorf("the unsubscribed endpoint got %d deliveries", n)
		}

		// The attempts log: the 500 then the 200s.
		att := owner.must(200, "GET", base+"/"+subID+"/attempts", nil)["data"].([]any)
		failed := 0
		for _, a := range att {
			if a.(map[string]any)["statusCode"].(float64) == 500 {
				failed++
			}
		}
		if len(att) != 3 || failed != 1 {
			t.Errorf("attempts %v", att)
		}
		msgs := owner.must(200, "GET", base+"/"+subID+"/messages", nil)["data"].([]any)
		if len(msgs) != 2 {
			t.Fatalf("messages %v", msgs)
		}

		// Rotation: the next delivery (a ping) carries both signatures; a manual retry resends with the same id.
		rot := owner.must(200, "POST", base+"/"+subID+"/rotate-secret", nil)["secret"].(string)
		ping := owner.must(202, "POST", base+"/"+subID+"/test", nil)
		msgID := msgs[0].(map[string]any)["id"].(string)
		owner.must(202, "POST", base+"/"+subID+"/messages/"+msgID+"/retry", nil)
		waitFor(t, "the ping and the retry", 20*time.Second, func() bool {
			ids := map[string]int{}
			for _, d := range rc.at("/sub") {
				ids[d.Headers["webhook-id"]]++
			}
			return ids[ping["id"].(string)] == 1 && ids[msgID] >= 2
		})
		var check []map[string]any
		for _, d := range rc.at("/sub") {
			secrets := []string{secret}
			if d.Headers["webhook-id"] == ping["id"].(string) {
				if len(strings.Fields(d.Headers["webhook-signature"])) != 2 {
					t.Errorf("a delivery during rotation has signatures %q", d.Headers["webhook-signature"])
				}
				secrets = []string{secret, rot}
			}
			check = append(check, map[string]any{"secrets": secrets, "headers": d.Headers, "body": d.Body})
		}
		verifyWithNode(t, check)

		// Replay: every message of the last hour again (the two events and the ping), each with its own webhook-id.
		before := len(rc.at("/sub"))
		since := e.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		if r := owner.must(202, "POST", base+"/"+subID+"/replay", map[string]any{"since": since, "all": true}); r["replayed"] != float64(3) || r["truncated"] != false {
			t.Errorf("replay all = %v", r)
		}
		waitFor(t, "the replayed messages", 20*time.Second, func() bool { return len(rc.at("/sub")) >= before+3 })
		if r := owner.must(202, "POST", base+"/"+subID+"/replay", map[string]any{"since": since}); r["replayed"] != float64(0) {
			t.Errorf("replay failed ones = %v (none failed for good)", r)
		}
		if r := owner.do("POST", base+"/"+subID+"/replay", map[string]any{"since": "yesterday"}); r.Status != 422 {
			t.Errorf("replay since yesterday: %d", r.Status)
		}
		if r := owner.do("POST", base+"/"+gone["id"].(string)+"/replay", map[string]any{"since": since}); r.Status != 409 {
			t.Errorf("replay to a disabled endpoint: %d", r.Status)
		}

		// Another workspace sees none of it.
		outsider := e.signup("outsider")
		outsider.workspace("Elsewhere")
		for _, p := range []string{base + "/" + subID, base + "/" + subID + "/attempts"} {
			if r := outsider.do("GET", p, nil); r.Status != 404 {
				t.Errorf("outsider GET %s: %d", p, r.Status)
			}
		}
		if r := outsider.do("POST", base+"/"+subID+"/reveal-secret", nil); r.Status != 404 {
			t.Errorf("outsider reveal: %d", r.Status)
		}
		if r := outsider.do("POST", base+"/"+subID+"/replay", map[string]any{"since": since}); r.Status != 404 {
			t.Errorf("outsider replay: %d", r.Status)
		}
		owner.must(204, "DELETE", base+"/"+unsub["id"].(string), nil)
	})
}

func TestWebhookURLNeedsHTTPSWithoutAllowPrivate(t *testing.T) {
	cfg := testConfig(dbtestSQLite(t))
	cfg.WebhookAllowPrivate = false
	e := newEnv(t, cfg)
	owner := e.signup("owner")
	ws := owner.workspace("Strict")
	for _, u := range []string{"http://hooks.example.com/x", "https://127.0.0.1/x", "https://169.254.169.254/latest/meta-data", "https://localhost/x"} {
		if r := owner.do("POST", "/v1/workspaces/"+ws+"/webhooks", map[string]any{"url": u, "events": []string{"*"}}); r.Status != 422 {
			t.Errorf("%s: %d %s", u, r.Status, r.Body)
		}
	}
	owner.must(201, "POST", "/v1/workspaces/"+ws+"/webhooks", map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// verifyWithNode checks the deliveries with an independent implementation of the specification
// (testdata/verify-webhooks.mjs, Node's crypto), when node is installed.
func verifyWithNode(t *testing.T, deliveries []map[string]any) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Log("node not installed: skipping the independent verification")
		return
	}
	f := filepath.Join(t.TempDir(), "deliveries.json")
	if err := os.WriteFile(f, []byte(mustJSON(deliveries)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "testdata/verify-webhooks.mjs", f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified "+strconv.Itoa(len(deliveries))) {
		t.Fatalf("node verifier: %v\n%s", err, out)
	}
}

// Two `parley serve` replicas on one PostgreSQL, both running the dispatcher and the job workers:
// every event reaches the endpoint as exactly one message, delivered once.
func TestWebhooksTwoReplicas(t *testing.T) {
	dbc := dbtest.Config(t, db.Postgres) // skipped without PostgreSQL
	a := newEnv(t, testConfig(dbc))
	b := newEnv(t, testConfig(dbc))
	a.startWorkers(t)
	b.startWorkers(t)
	rc := &hookReceiver{statuses: map[string][]int{}}
	hs := httptest.NewServer(rc)
	defer hs.Close()

	owner := a.signup("owner")
	ws := owner.workspace("Replicated")
	owner.must(201, "POST", "/v1/workspaces/"+ws+"/webhooks", map[string]any{"url": hs.URL + "/r", "events": []string{"workspace.updated"}})
	const n = 200
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				owner.must(200, "PATCH", "/v1/workspaces/"+ws, map[string]any{"name": "Replicated " + strconv.Itoa(i)})
			}
		}()
	}
	wg.Wait()
	waitFor(t, "every event delivered", 60*time.Second, func() bool { return len(rc.at("/r")) >= n })
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive about now
	ids := map[string]int{}
	events := map[string]bool{}
	for _, d := range rc.at("/r") {
		ids[d.Headers["webhook-id"]]++
		var env struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal([]byte(d.Body), &env)
		events[env.ID] = true
	}
	if len(ids) != n || len(events) != n || len(rc.at("/r")) != n {
		t.Fatalf("%d deliveries, %d webhook-ids, %d events; want %d of each", len(rc.at("/r")), len(ids), len(events), n)
	}
	var workers int
	if err := a.srv.DB.Read.QueryRow(`SELECT COUNT(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'webhook.deliver'`).Scan(&workers); err != nil {
		t.Fatal(err)
	}
	t.Logf("deliveries worked by %d replicas", workers)
}

// TestWebhookCrashChild is the server TestWebhooksSurviveSIGKILL kills: it runs `parley serve`
// until killed, configured by the environment. It does nothing in a normal test run.
func TestWebhookCrashChild(t *testing.T) {
	if os.Getenv("PARLEY_WEBHOOK_CRASH_CHILD") != "1" {
		t.Skip("run by TestWebhooksSurviveSIGKILL")
	}
	_ = Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}, os.Getenv, strings.NewReader(""), os.Stdout, os.Stderr)
}

// TestWebhooksSurviveSIGKILL kills the server (SIGKILL) while 1,000 events are being delivered,
// restarts it, and checks that every event became exactly one message and nothing was lost: each
// event reaches the receiver, or its delivery job is the one the kill interrupted (River retries
// it when it rescues stuck jobs, after an hour); and no event arrives under two webhook-ids.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		var mu sync.Mutex
		gate := make(chan struct{})
		byID := map[string]string{}   // webhook-id → event ID
		delivered := map[string]int{} // event ID → deliveries
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			select { // hold deliveries until every event is committed, so that most are in flight at the kill
			case <-gate:
			case <-time.After(10 * time.Second):
			}
			time.Sleep(20 * time.Millisecond)
			var env struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(b, &env)
			mu.Lock()
			id := r.Header.Get("webhook-id")
			if prev, ok := byID[id]; ok && prev != env.ID {
				t.Errorf("webhook-id %s carried %s and %s", id, prev, env.ID)
			}
			byID[id] = env.ID
			delivered[env.ID]++
			mu.Unlock()
		}))
		defer hs.Close()
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(delivered) }

		start := func() (*exec.Cmd, string) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "PARLEY_WEBHOOK_CRASH_CHILD=1", "PARLEY_DATA_DIR="+dbc.DataDir, "PARLEY_DATABASE_URL="+dbc.URL,
				"PARLEY_WEBHOOK_ALLOW_PRIVATE=true", "PARLEY_LOG_LEVEL=error", "PARLEY_WELCOME_CREDITS=0")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
					go func() { _, _ = io.Copy(io.Discard, out) }()
					return cmd, after
				}
			}
			t.Fatal("the server did not start")
			return nil, ""
		}
		cmd, base := start()
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar}
		call := func(method, path string, body any, want int) map[string]any {
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest(method, base+path, strings.NewReader(string(b)))
			req.Header.Set("Content-Type", "application/json")
			res, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			defer res.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(res.Body).Decode(&m)
			if res.StatusCode != want {
				t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, m)
			}
			return m
		}
		call("POST", "/v1/auth/signup", map[string]any{"email": "crash@example.com", "password": "a sturdy passphrase", "name": "Crash"}, 201)
		ws := call("POST", "/v1/workspaces", map[string]any{"name": "Crash"}, 201)["id"].(string)
		call("POST", "/v1/workspaces/"+ws+"/webhooks", map[string]any{"url": hs.URL + "/c", "events": []string{"workspace.updated"}}, 201)

		const n = 1000
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					call("PATCH", "/v1/workspaces/"+ws, map[string]any{"name": "Crash " + strconv.Itoa(i)}, 200)
				}
			}()
		}
		wg.Wait()
		close(gate)
		waitFor(t, "deliveries under way", 30*time.Second, func() bool { return count() >= 100 })
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		atKill := count()
		if atKill >= n {
			t.Fatalf("all %d delivered before the kill: nothing was in flight", n)
		}
		start()

		d, err := db.Open(context.Background(), dbc)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		// Done when no message waits for anything but a job the kill left running (stuck).
		waitFor(t, "the restarted server to deliver the rest", 90*time.Second, func() bool {
			var waiting int
			if err := d.Read.QueryRow(`SELECT COUNT(*) FROM webhook_messages m WHERE m.status = 'pending'
AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.state = 'running' AND j.args->>'messageId' = m.id)`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			var queued int
			_ = d.Read.QueryRow(`SELECT COUNT(*) FROM webhook_outbox`).Scan(&queued)
			return waiting == 0 && queued == 0
		})
		var evs, msgs, distinct, stuck int
		if err := d.Read.QueryRow(`SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND type = 'workspace.updated'`, ws).Scan(&evs); err != nil {
			t.Fatal(err)
		}
		if err := d.Read.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT event_id) FROM webhook_messages WHERE workspace_id = $1`, ws).Scan(&msgs, &distinct); err != nil {
			t.Fatal(err)
		}
		if evs != n || msgs != n || distinct != n {
			t.Fatalf("%d events, %d messages for %d distinct events; want %d each", evs, msgs, distinct, n)
		}
		// Every event reached the receiver, or its message waits for the job the kill interrupted.
		rows, err := d.Read.Query(`SELECT e.id, m.status FROM events e JOIN webhook_messages m ON m.event_id = e.id
WHERE e.workspace_id = $1 AND e.type = 'workspace.updated'`, ws)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := len(delivered)
		for rows.Next() {
			var eid, status string
			if err := rows.Scan(&eid, &status); err != nil {
				t.Fatal(err)
			}
			if status == "pending" {
				stuck++
			} else if delivered[eid] == 0 {
				t.Errorf("event %s: message %s but never delivered", eid, status)
			}
		}
		mu.Unlock()
		rows.Close()
		t.Logf("delivered before the kill: %d; after the restart: %d; interrupted, awaiting River's rescue: %d", atKill, got, stuck)
	})
}
