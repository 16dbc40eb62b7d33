package telephony

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of credentials and phone numbers. Every method takes the workspace ID and
// filters on it.
type store struct{}

const credentialCols = `id, workspace_id, provider, name, fields, secrets, hints, verify_status, verify_error, verified_at, created_by, created_at, updated_at`

func scanCredential(sc interface{ Scan(...any) error }) (credentialRow, error) {
	var r credentialRow
	var fields, hints string
	var verified db.Time
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &r.Provider, &r.Name, &fields, &r.sealed, &hints, &r.Verify.Status, &r.Verify.Error,
		&verified, &r.CreatedBy, (*db.Time)(&r.CreatedAt), (*db.Time)(&r.UpdatedAt)); err != nil {
		return credentialRow{}, err
	}
	if err := json.Unmarshal([]byte(fields), &r.Fields); err != nil {
		return credentialRow{}, fmt.Errorf("credential %s: fields: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(hints), &r.Secrets); err != nil {
		return credentialRow{}, fmt.Errorf("credential %s: hints: %w", r.ID, err)
	}
	r.Verify.VerifiedAt = verified.Ptr()
	return r, nil
}

func (store) insertCredential(ctx context.Context, q db.Querier, r credentialRow) error {
	fields, _ := json.Marshal(r.Fields)
	hints, _ := json.Marshal(r.Secrets)
	_, err := q.ExecContext(ctx, `INSERT INTO telephony_credentials (`+credentialCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
		r.ID, r.WorkspaceID, r.Provider, r.Name, string(fields), r.sealed, string(hints), r.Verify.Status, r.Verify.Error,
		db.OptTime(r.Verify.VerifiedAt), r.CreatedBy, db.Time(r.CreatedAt), db.Time(r.UpdatedAt))
	return err
}

func (store) updateCredential(ctx context.Context, q db.Querier, r credentialRow) (bool, error) {
	fields, _ := json.Marshal(r.Fields)
	hints, _ := json.Marshal(r.Secrets)
	res, err := q.ExecContext(ctx, `UPDATE telephony_credentials SET name = $3, fields = $4, secrets = $5, hints = $6,
verify_status = $7, verify_error = $8, verified_at = $9, updated_at = $10 WHERE workspace_id = $1 AND id = $2`,
		r.WorkspaceID, r.ID, r.Name, string(fields), r.sealed, string(hints), r.Verify.Status, r.Verify.Error, db.OptTime(r.Verify.VerifiedAt), db.Time(r.UpdatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (store) credential(ctx context.Context, q db.Querier, wsID, credID string) (credentialRow, error) {
	return scanCredential(q.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM telephony_credentials WHERE workspace_id = $1 AND id = $2`, wsID, credID))
}

func (store) credentials(ctx context.Context, q db.Querier, wsID, provider string) ([]credentialRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+credentialCols+` FROM telephony_credentials WHERE workspace_id = $1 AND ($2 = '' OR provider = $2) ORDER BY id DESC`, wsID, provider)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []credentialRow
	for rows.Next() {
		r, err := scanCredential(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (store) deleteCredential(ctx context.Context, q db.Querier, wsID, credID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM telephony_credentials WHERE workspace_id = $1 AND id = $2`, wsID, credID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (store) setVerify(ctx context.Context, q db.Querier, wsID, credID string, v VerifyState, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE telephony_credentials SET verify_status = $3, verify_error = $4, verified_at = $5 WHERE workspace_id = $1 AND id = $2`,
		wsID, credID, v.Status, v.Error, db.Time(now))
	return err
}

const numberCols = `n.id, n.workspace_id, n.e164, n.credential_id, c.provider, n.label, n.inbound_agent_id, n.routing_url, n.routing_secret, n.created_at, n.updated_at`
const numberFrom = ` FROM phone_numbers n JOIN telephony_credentials c ON c.workspace_id = n.workspace_id AND c.id = n.credential_id`

// numberRow is a number as stored, its routing secret sealed.
type numberRow struct {
	Number
	sealedRouting string
}

func scanNumber(sc interface{ Scan(...any) error }) (numberRow, error) {
	var n numberRow
	var agentID sql.NullString
	if err := sc.Scan(&n.ID, &n.WorkspaceID, &n.E164, &n.CredentialID, &n.Provider, &n.Label, &agentID, &n.RoutingURL, &n.sealedRouting,
		(*db.Time)(&n.CreatedAt), (*db.Time)(&n.UpdatedAt)); err != nil {
		return numberRow{}, err
	}
	if agentID.Valid {
		n.InboundAgentID = &agentID.String
	}
	return n, nil
}

func (store) insertNumber(ctx context.Context, q db.Querier, n numberRow) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO phone_numbers (id, workspace_id, e164, credential_id, label, inbound_agent_id, routing_url, routing_secret, created_at, updated_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (workspace_id, e164) DO NOTHING`,
		n.ID, n.WorkspaceID, n.E164, n.CredentialID, n.Label, n.InboundAgentID, n.RoutingURL, n.sealedRouting, db.Time(n.CreatedAt), db.Time(n.UpdatedAt))
	if err != nil {
		return false, err
	}
	c, err := res.RowsAffected()
	return c == 1, err
}

func (store) updateNumber(ctx context.Context, q db.Querier, n numberRow) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE phone_numbers SET credential_id = $3, label = $4, inbound_agent_id = $5, routing_url = $6, routing_secret = $7, updated_at = $8
WHERE workspace_id = $1 AND id = $2`, n.WorkspaceID, n.ID, n.CredentialID, n.Label, n.InboundAgentID, n.RoutingURL, n.sealedRouting, db.Time(n.UpdatedAt))
	if err != nil {
		return false, err
	}
	c, err := res.RowsAffected()
	return c == 1, err
}

func (store) number(ctx context.Context, q db.Querier, wsID, numberID string) (numberRow, error) {
	return scanNumber(q.QueryRowContext(ctx, `SELECT `+numberCols+numberFrom+` WHERE n.workspace_id = $1 AND n.id = $2`, wsID, numberID))
}

func (store) numberByE164(ctx context.Context, q db.Querier, wsID, e164 string) (numberRow, error) {
	return scanNumber(q.QueryRowContext(ctx, `SELECT `+numberCols+numberFrom+` WHERE n.workspace_id = $1 AND n.e164 = $2`, wsID, e164))
}

func (store) numbers(ctx context.Context, q db.Querier, wsID, beforeID string, limit int) ([]Number, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+numberCols+numberFrom+` WHERE n.workspace_id = $1 AND ($2 = '' OR n.id < $2) ORDER BY n.id DESC LIMIT $3`, wsID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Number
	for rows.Next() {
		n, err := scanNumber(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n.Number)
	}
	return out, rows.Err()
}

func (store) deleteNumber(ctx context.Context, q db.Querier, wsID, numberID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM phone_numbers WHERE workspace_id = $1 AND id = $2`, wsID, numberID)
	if err != nil {
		return false, err
	}
	c, err := res.RowsAffected()
	return c == 1, err
}

func (store) agentExists(ctx context.Context, q db.Querier, wsID, agentID string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM agents WHERE workspace_id = $1 AND id = $2`, wsID, agentID).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}

func (store) workspaceExists(ctx context.Context, q db.Querier, wsID string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM workspaces WHERE id = $1`, wsID).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}
