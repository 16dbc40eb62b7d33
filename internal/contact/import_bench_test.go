package contact

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// TestImportBenchmark imports a generated CSV (phone, name, email, 3 attribute columns, 2% bad
// rows) of PARLEY_IMPORT_BENCH rows (e.g. 1000000) on each store and reports the time and the
// process's peak RSS. Run one store per process for a clean peak RSS:
//
//	PARLEY_IMPORT_BENCH=1000000 go test -run 'TestImportBenchmark/sqlite' -v -count=1 ./internal/contact/
func TestImportBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PARLEY_IMPORT_BENCH"))
	if n <= 0 {
		t.Skip("set PARLEY_IMPORT_BENCH=<rows> to run")
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f, _, _ := importFixture(t, d, DefaultImportBatch)
		if p := os.Getenv("PARLEY_IMPORT_BENCH_PRAGMAS"); p != "" && d.Dialect == db.SQLite {
			// To measure the store's settings: e.g. "temp_store = MEMORY; cache_size = -65536".
			for _, q := range strings.Split(p, ";") {
				if _, err := d.Write.ExecContext(context.Background(), "PRAGMA "+strings.TrimSpace(q)); err != nil {
					t.Fatal(err)
				}
			}
		}
		ctx := f.as("user_owner")
		start, cpu0 := time.Now(), cpuTime()
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(generateCSV(pw, n)) }()
		up, err := f.svc.ReceiveImport(ctx, f.wsA, "bench.csv", pr)
		if err != nil {
			t.Fatal(err)
		}
		uploaded := time.Since(start)
		imp, err := f.svc.StartImport(ctx, f.wsA, up, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checked := time.Since(start)
		if err := f.svc.RunImport(authz.WithPrincipal(context.Background(), authz.System()), f.wsA, imp.ID); err != nil {
			t.Fatal(err)
		}
		total, cpu := time.Since(start), cpuTime()-cpu0
		imp, _ = f.svc.GetImport(ctx, f.wsA, imp.ID)
		if imp.Status != ImportCompleted || imp.Total != int64(n) || imp.Created+imp.Failed != imp.Total || imp.Failed < int64(n)/50 {
			t.Fatalf("%s %s %s", imp.Status, counts(imp), imp.Error)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%s: %d rows (%.1f MB): upload %.1fs, check %.1fs, import %.1fs, total %.1fs (%.0f rows/s), CPU (user+sys) %.1fs; %s; peak RSS (VmHWM) %s; Go heap sys %d MB",
			d.Dialect, n, float64(imp.FileSize)/1e6, uploaded.Seconds(), (checked - uploaded).Seconds(), (total - checked).Seconds(), total.Seconds(),
			float64(n)/total.Seconds(), cpu.Seconds(), counts(imp), vmHWM(), ms.HeapSys>>20)
	})
}

// generateCSV writes n rows: every 50th has an impossible number.
func generateCSV(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	areas := []int{212, 415, 646, 312, 617, 702, 206, 305, 503, 404}
	bw.WriteString("phone,name,email,plan,city,visits\n")
	plans := []string{"gold", "silver", "bronze"}
	for i := range n {
		if i%50 == 49 {
			fmt.Fprintf(bw, "12%d,Bad Row %d,bad%d@example.com,%s,Nowhere,%d\n", i, i, i, plans[i%3], i%10)
			continue
		}
		area := areas[i%len(areas)]
		k := i / len(areas)
		exchange := 200 + (k/10000)%800
		if exchange%100 == 11 {
			exchange++
		}
		fmt.Fprintf(bw, "+1%d%03d%04d,Person %d,person%d@example.com,%s,\"City, %d\",%d\n", area, exchange, k%10000, i, i, plans[i%3], i%100, i%10)
	}
	return bw.Flush()
}

// cpuTime is the CPU time the process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
