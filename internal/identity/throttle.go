package identity

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// throttle is a set of token buckets keyed by account or IP. Each replica keeps its own (a
// cluster of N replicas allows at most N times the rate; the docs say so).
type throttle struct {
	mu      sync.Mutex
	every   time.Duration
	burst   int
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newThrottle(every time.Duration, burst int) *throttle {
	return &throttle{every: every, burst: burst, buckets: map[string]*rate.Limiter{}}
}

// wait returns how long key must wait before its next attempt (0: it may go now).
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.buckets[key]
	if !ok {
		return 0
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(t.every))
}

// hit spends one attempt of key.
func (t *throttle) hit(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.buckets[key]
	if !ok {
		l = rate.NewLimiter(rate.Every(t.every), t.burst)
		t.buckets[key] = l
	}
	l.AllowN(now, 1)
	if now.Sub(t.swept) > time.Minute {
		t.swept = now
		for k, b := range t.buckets {
			if b.TokensAt(now) >= float64(t.burst) {
				delete(t.buckets, k)
			}
		}
	}
}
