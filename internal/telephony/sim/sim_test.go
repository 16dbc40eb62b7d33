package sim

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

func TestOutcomeByNumber(t *testing.T) {
	for _, tc := range []struct {
		number string
		want   telephony.CallStatus
		talk   time.Duration
	}{
		{"+14155550002", telephony.StatusBusy, 0},
		{"+14155550003", telephony.StatusNoAnswer, 0},
		{"+14155550004", telephony.StatusVoicemail, VoicemailLength},
		{"+14155550005", telephony.StatusFailed, 0},
		{"+14155550142", telephony.StatusCompleted, 72 * time.Second},
		{"+14155550100", telephony.StatusCompleted, 30 * time.Second},
		{"+14155550199", telephony.StatusCompleted, 129 * time.Second},
	} {
		if o, talk := OutcomeFor(tc.number); o != tc.want || talk != tc.talk {
			t.Errorf("%s: %s %v, want %s %v", tc.number, o, talk, tc.want, tc.talk)
		}
	}
}

func TestWeights(t *testing.T) {
	for _, bad := range []string{"completed", "completed=x", "ringing=3", "busy=0", "busy=-1"} {
		if _, err := parseWeights(bad); err == nil {
			t.Errorf("parseWeights(%q) accepted", bad)
		}
	}
	e := NewEngine(1)
	p, err := e.Constructor()(telephony.Config{Fields: map[string]string{"outcomes": "busy=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := p.(*provider).pick("+14155550142"); o != telephony.StatusBusy {
		t.Fatalf("weights busy=1 picked %s", o)
	}
}

// TestCallReportsInOrder places a call on a fast engine and checks the reports it sends: in
// order, signed, each parsing back to the statuses a real provider would report.
func TestCallReportsInOrder(t *testing.T) {
	e := NewEngine(100_000)
	defer e.Close()
	var mu sync.Mutex
	var got []telephony.Event
	done := make(chan struct{})
	p, _ := e.Constructor()(telephony.Config{})
	e.SetDeliver(func(ctx context.Context, req telephony.Request) (telephony.Response, error) {
		ev, err := p.Parse(req)
		if err != nil {
			t.Errorf("parse: %v", err)
			return telephony.Response{}, err
		}
		mu.Lock()
		got = append(got, ev)
		if ev.Status == telephony.StatusCompleted {
			close(done)
		}
		mu.Unlock()
		return telephony.Response{}, nil
	})
	res, err := p.Place(context.Background(), telephony.PlaceRequest{CallID: "call_1", From: "+15005550006", To: "+14155550142",
		AnswerURL: "http://x/telephony/ws_1/sim/voice?callId=call_1", StatusURL: "http://x/telephony/ws_1/sim/status?callId=call_1"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not complete")
	}
	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, ev := range got {
		if ev.ProviderCallID != res.ProviderCallID || ev.CallID != "call_1" {
			t.Fatalf("event %+v", ev)
		}
		kinds = append(kinds, string(ev.Kind)+":"+string(ev.Status))
	}
	want := []string{"status:ringing", "status:in_progress", "answered:in_progress", "status:completed"}
	if len(kinds) != len(want) {
		t.Fatalf("reports %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("reports %v, want %v", kinds, want)
		}
	}
	if last := got[len(got)-1]; last.DurationSeconds != 72 {
		t.Fatalf("duration %d", last.DurationSeconds)
	}
}

func TestParseRefusesForgery(t *testing.T) {
	e, other := NewEngine(1), NewEngine(1)
	p, _ := e.Constructor()(telephony.Config{})
	form := url.Values{"CallSid": {"simcall_1"}, "CallStatus": {"completed"}}
	target := "http://x/telephony/ws_1/sim/status?callId=call_1"
	if _, err := p.Parse(e.Request(target, form)); err != nil {
		t.Fatalf("own request: %v", err)
	}
	if _, err := p.Parse(other.Request(target, form)); !errors.Is(err, telephony.ErrBadSignature) {
		t.Fatalf("another engine's request: %v", err)
	}
	req := e.Request(target, form)
	req.URL = "http://x/telephony/ws_2/sim/status?callId=call_1"
	if _, err := p.Parse(req); !errors.Is(err, telephony.ErrBadSignature) {
		t.Fatalf("moved request: %v", err)
	}
}
