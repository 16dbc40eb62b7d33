package call

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/webhook"
)

// RoutingTimeout bounds a routing webhook's answer; past it the number's own agent takes the call.
const RoutingTimeout = 3 * time.Second

// RoutingEventType is the type of a routing request (header Parley-Event-Type and body type).
const RoutingEventType = "call.routing"

// routeRequest is what Parley posts to a number's routing webhook.
type routeRequest struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	Timestamp   time.Time      `json:"timestamp"`
	WorkspaceID string         `json:"workspaceId"`
	Data        map[string]any `json:"data"`
}

// routeAnswer is what a routing webhook answers: an agent (and variables), or a rejection.
type routeAnswer struct {
	AgentID   string         `json:"agentId"`
	Variables map[string]any `json:"variables"`
	Reject    bool           `json:"reject"`
	Reason    string         `json:"reason"`
}

// route asks a routing webhook who takes an inbound call. It signs the request as webhooks are
// signed (Standard Webhooks, the number's routing secret) and waits at most RoutingTimeout. An
// error means "fall back to the number's agent".
func (s *Service) route(ctx context.Context, target, secret, wsID string, data map[string]any) (routeAnswer, error) {
	now := s.now()
	msgID := id.New("route")
	body, err := json.Marshal(routeRequest{ID: msgID, Type: RoutingEventType, Timestamp: now, WorkspaceID: wsID, Data: data})
	if err != nil {
		return routeAnswer{}, err
	}
	sig, err := webhook.SignatureHeader([]string{secret}, msgID, now.Unix(), body)
	if err != nil {
		return routeAnswer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, RoutingTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return routeAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	req.Header.Set("Parley-Workspace-Id", wsID)
	req.Header.Set("Parley-Event-Type", RoutingEventType)
	client := s.opts.RoutingClient
	if client == nil {
		client = webhook.NewClient(false)
	}
	resp, err := client.Do(req)
	if err != nil {
		return routeAnswer{}, fmt.Errorf("routing webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return routeAnswer{}, fmt.Errorf("routing webhook answered HTTP %d", resp.StatusCode)
	}
	var a routeAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a); err != nil {
		return routeAnswer{}, fmt.Errorf("routing webhook: unreadable answer: %w", err)
	}
	return a, nil
}
