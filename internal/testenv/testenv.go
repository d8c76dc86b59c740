// Package testenv starts the real parts tests need: a DynamoDB API on
// loopback (dynalite from the repo's pinned npm packages). `make test` starts
// one and exports KAIZEN_DYNAMODB_ENDPOINT; a plain `go test` starts its own.
// Neither case skips: a missing dynalite is a test failure that says how to
// install it.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kaizen-sre/kaizen/shared/store"
)

var (
	once     sync.Once
	endpoint string
	startErr error
	tables   atomic.Int64
)

// Root is the repository root (the directory holding go.mod).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a free TCP port on loopback.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePorts returns n distinct free TCP ports on loopback. They are held
// open together while chosen, so the kernel cannot hand out one twice (as
// separate FreePort calls may).
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WaitTCP waits until addr accepts connections.
func WaitTCP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not accept connections within %s", addr, d)
}

// DynamoEndpoint returns the URL of a DynamoDB API on loopback.
func DynamoEndpoint() (string, error) {
	once.Do(func() {
		if e := os.Getenv("KAIZEN_DYNAMODB_ENDPOINT"); e != "" {
			endpoint = e
			return
		}
		root, err := Root()
		if err != nil {
			startErr = err
			return
		}
		bin := filepath.Join(root, "node_modules", ".bin", "dynalite")
		if _, err := os.Stat(bin); err != nil {
			startErr = fmt.Errorf("dynalite is not installed (%s): run `make deps` (npm ci) first", bin)
			return
		}
		port, err := FreePort()
		if err != nil {
			startErr = err
			return
		}
		cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
		// Dies with the test binary.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(root, "node_modules", ".bin")+":"+os.Getenv("PATH"))
		if err := cmd.Start(); err != nil {
			startErr = fmt.Errorf("start dynalite: %w", err)
			return
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if err := WaitTCP(addr, 15*time.Second); err != nil {
			startErr = fmt.Errorf("dynalite: %w", err)
			return
		}
		endpoint = "http://" + addr
	})
	return endpoint, startErr
}

// DynamoDB returns a client for the loopback DynamoDB API.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	ep, err := DynamoEndpoint()
	if err != nil {
		t.Fatalf("DynamoDB API for tests: %v", err)
	}
	return DynamoClient(ep)
}

// DynamoClient builds a client for endpoint with dummy credentials.
func DynamoClient(ep string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(ep),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// NewTable creates a fresh kaizen table and returns its name.
func NewTable(t testing.TB, db *dynamodb.Client) string {
	t.Helper()
	name := fmt.Sprintf("kaizen-test-%d-%d", os.Getpid(), tables.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.CreateTable(ctx, db, name); err != nil {
		t.Fatalf("%v", err)
	}
	return name
}
