// Command load is Parley's HTTP load generator (standard library only). It signs up a fresh
// user, creates one workspace, then sends authenticated requests through the real HTTP stack:
//
//	read:  GET  /v1/workspaces/{id}   (expects 200)
//	write: POST /v1/workspaces        (expects 201)
//	both:  the read phase, then the write phase, each for -d
//
// By default it is closed-loop: -c workers each send the next request as soon as the previous
// one answers. With -rate it is open-loop: requests are scheduled at a fixed rate and each
// latency is measured from the request's scheduled time, so a server that falls behind shows it
// in the percentiles (no coordinated omission) as long as -c is large enough to keep up.
//
// See bench/README.md.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	cookieName = "parley_session"
	password   = "bench passphrase 123"
	maxErrKept = 5
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "base URL of the Parley server")
	conc := flag.Int("c", 32, "concurrency: number of workers (and of keep-alive connections)")
	dur := flag.Duration("d", 10*time.Second, "duration of each scenario")
	rate := flag.Float64("rate", 0, "open-loop target requests/s (0 = closed loop, as fast as possible)")
	scenario := flag.String("scenario", "read", "read, write or both")
	label := flag.String("label", "", "first column of the Markdown row (e.g. the store: sqlite, postgres)")
	flag.Parse()

	if *conc < 1 || *dur <= 0 || *rate < 0 {
		fatalf("-c must be ≥ 1, -d > 0 and -rate ≥ 0")
	}
	var scenarios []string
	switch *scenario {
	case "read", "write":
		scenarios = []string{*scenario}
	case "both":
		scenarios = []string{"read", "write"}
	default:
		fatalf("-scenario must be read, write or both, not %q", *scenario)
	}

	tr := &http.Transport{
		MaxIdleConns:        *conc,
		MaxIdleConnsPerHost: *conc,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b := &bench{base: strings.TrimRight(*base, "/"), client: client}

	if err := b.setup(); err != nil {
		fatalf("set-up: %v", err)
	}
	fmt.Printf("set-up: signed up %s, workspace %s\n", b.email, b.workspaceID)

	var rows []string
	for _, sc := range scenarios {
		res := b.run(sc, *conc, *dur, *rate)
		res.print(os.Stdout)
		rows = append(rows, res.row(*label))
	}
	fmt.Println()
	fmt.Println("| store | scenario | c | target rate | requests | errors | req/s | p50 | p90 | p99 | max |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Println(r)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
	os.Exit(1)
}

type bench struct {
	base        string
	client      *http.Client
	email       string
	cookie      string // "parley_session=…"
	workspaceID string
	seq         atomic.Int64 // workspace names for the write scenario
}

// setup signs up a fresh user and creates the workspace the read scenario fetches.
func (b *bench) setup() error {
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	b.email = fmt.Sprintf("bench-%d-%s@example.com", time.Now().Unix(), hex.EncodeToString(suffix))
	body, _ := json.Marshal(map[string]string{"email": b.email, "password": password, "name": "bench"})
	resp, err := b.client.Post(b.base+"/v1/auth/signup", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sign-up: %w", err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("sign-up: status %d: %s", resp.StatusCode, truncate(rb))
	}
	for _, c := range resp.Cookies() {
		// On an https base URL the cookie is __Host-parley_session.
		if strings.HasSuffix(c.Name, cookieName) && c.Value != "" {
			b.cookie = c.Name + "=" + c.Value
		}
	}
	if b.cookie == "" {
		return errors.New("sign-up: no " + cookieName + " cookie in the response")
	}

	status, rb, err := b.do(http.MethodPost, "/v1/workspaces", []byte(`{"name": "Bench"}`))
	if err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("create workspace: status %d: %s", status, truncate(rb))
	}
	var ws struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rb, &ws); err != nil || ws.ID == "" {
		return fmt.Errorf("create workspace: no id in %s", truncate(rb))
	}
	b.workspaceID = ws.ID
	return nil
}

// do sends one authenticated request and returns the status and the whole body.
func (b *bench) do(method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Cookie", b.cookie)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}

// request builds the next request of a scenario and the status it expects.
func (b *bench) request(scenario string) (*http.Request, int) {
	var req *http.Request
	want := http.StatusOK
	if scenario == "read" {
		req, _ = http.NewRequest(http.MethodGet, b.base+"/v1/workspaces/"+b.workspaceID, nil)
	} else {
		n := b.seq.Add(1)
		req, _ = http.NewRequest(http.MethodPost, b.base+"/v1/workspaces", strings.NewReader(fmt.Sprintf(`{"name": "Bench %d"}`, n)))
		req.Header.Set("Content-Type", "application/json")
		want = http.StatusCreated
	}
	req.Header.Set("Cookie", b.cookie)
	return req, want
}

type result struct {
	scenario  string
	conc      int
	rate      float64
	elapsed   time.Duration
	requests  int
	errors    int
	unsent    int // open loop: requests due before the deadline but never sent (fell behind)
	errBodies []string
	lat       []time.Duration // sorted
	cpu       time.Duration   // CPU time the load generator used meanwhile
}

type worker struct {
	lat    []time.Duration
	errors int
}

// run drives one scenario for d with conc workers, closed-loop or (rate > 0) open-loop.
func (b *bench) run(scenario string, conc int, d time.Duration, rate float64) result {
	var (
		mu        sync.Mutex
		errBodies []string
		seq       atomic.Int64 // open loop: index of the next scheduled request
		wg        sync.WaitGroup
	)
	interval := time.Duration(0)
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	workers := make([]worker, conc)
	cpu0 := cpuTime()
	start := time.Now()
	deadline := start.Add(d)
	for i := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.lat = make([]time.Duration, 0, 4096)
			for {
				var t0 time.Time
				if interval > 0 {
					// The n-th request is due at start + n·interval; if it is already late
					// (all workers were busy) it goes now and its latency counts the wait.
					t0 = start.Add(time.Duration(seq.Add(1)-1) * interval)
					// Stop at the deadline even when behind schedule: the requests left over
					// are reported as unsent, and the run never outlasts -d.
					if !t0.Before(deadline) || !time.Now().Before(deadline) {
						return
					}
					if wait := time.Until(t0); wait > 0 {
						time.Sleep(wait)
					}
				} else {
					t0 = time.Now()
					if !t0.Before(deadline) {
						return
					}
				}
				req, want := b.request(scenario)
				resp, err := b.client.Do(req)
				var errBody string
				if err != nil {
					errBody = "transport: " + err.Error()
				} else {
					if resp.StatusCode == want {
						_, err = io.Copy(io.Discard, resp.Body)
						if err != nil {
							errBody = "reading body: " + err.Error()
						}
					} else {
						rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
						errBody = fmt.Sprintf("status %d: %s", resp.StatusCode, truncate(rb))
					}
					resp.Body.Close()
				}
				w.lat = append(w.lat, time.Since(t0))
				if errBody != "" {
					w.errors++
					mu.Lock()
					if len(errBodies) < maxErrKept {
						errBodies = append(errBodies, errBody)
					}
					mu.Unlock()
				}
			}
		}(&workers[i])
	}
	wg.Wait()
	res := result{scenario: scenario, conc: conc, rate: rate, elapsed: time.Since(start), errBodies: errBodies, cpu: cpuTime() - cpu0}
	for _, w := range workers {
		res.lat = append(res.lat, w.lat...)
		res.errors += w.errors
	}
	res.requests = len(res.lat)
	if rate > 0 {
		res.unsent = max(0, int(math.Ceil(d.Seconds()*rate))-res.requests)
	}
	slices.Sort(res.lat)
	return res
}

// pct is the q-th quantile (nearest rank) of the sorted latencies.
func (r result) pct(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(r.lat)))) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) mode() string {
	if r.rate > 0 {
		return fmt.Sprintf("%.0f/s", r.rate)
	}
	return "max"
}

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "\n== %s  (c=%d, rate=%s, %.1fs)\n", r.scenario, r.conc, r.mode(), r.elapsed.Seconds())
	fmt.Fprintf(w, "requests  %d\n", r.requests)
	if r.unsent > 0 {
		fmt.Fprintf(w, "unsent    %d (behind the target rate at the deadline)\n", r.unsent)
	}
	fmt.Fprintf(w, "errors    %d\n", r.errors)
	for _, e := range r.errBodies {
		fmt.Fprintf(w, "  - %s\n", e)
	}
	fmt.Fprintf(w, "req/s     %.0f\n", r.rps())
	fmt.Fprintf(w, "latency   p50 %s  p90 %s  p99 %s  max %s\n", ms(r.pct(.50)), ms(r.pct(.90)), ms(r.pct(.99)), ms(r.pct(1)))
	if r.cpu > 0 {
		fmt.Fprintf(w, "load CPU  %.2f s (%.0f%% of one core)\n", r.cpu.Seconds(), 100*r.cpu.Seconds()/r.elapsed.Seconds())
	}
	// One machine-readable line for scripts (bench/run.sh reads rps from it).
	fmt.Fprintf(w, "RESULT scenario=%s c=%d rate=%.0f requests=%d errors=%d rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f cpu_s=%.3f elapsed_s=%.3f unsent=%d\n",
		r.scenario, r.conc, r.rate, r.requests, r.errors, r.rps(),
		msf(r.pct(.50)), msf(r.pct(.90)), msf(r.pct(.99)), msf(r.pct(1)), r.cpu.Seconds(), r.elapsed.Seconds(), r.unsent)
}

func (r result) row(label string) string {
	reqs := fmt.Sprint(r.requests)
	if r.unsent > 0 {
		reqs += fmt.Sprintf(" (%d unsent)", r.unsent)
	}
	return fmt.Sprintf("| %s | %s | %d | %s | %s | %d | %.0f | %s | %s | %s | %s |",
		label, r.scenario, r.conc, r.mode(), reqs, r.errors, r.rps(),
		ms(r.pct(.50)), ms(r.pct(.90)), ms(r.pct(.99)), ms(r.pct(1)))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", msf(d)) }

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
