package contact

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/authz"
)

// ImportArgs is the job that runs an import.
type ImportArgs struct {
	WorkspaceID string `json:"workspaceId"`
	ImportID    string `json:"importId"`
}

// Kind is the job's stable name.
func (ImportArgs) Kind() string { return "contact.import" }

// ImportWorker works ImportArgs as the system. A run cut short (a restart, an error) is retried
// by the queue and resumes at the import's checkpoint.
type ImportWorker struct {
	river.WorkerDefaults[ImportArgs]
	Svc *Service
}

// Timeout lets an import run for as long as a large file takes.
func (w *ImportWorker) Timeout(*river.Job[ImportArgs]) time.Duration { return 6 * time.Hour }

// Work runs the import from its checkpoint.
func (w *ImportWorker) Work(ctx context.Context, job *river.Job[ImportArgs]) error {
	return w.Svc.RunImport(authz.WithPrincipal(ctx, authz.System()), job.Args.WorkspaceID, job.Args.ImportID)
}
