package mqtt

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// loopbackPair returns a bufferedConn dialled to a loopback listener and the listener's side.
func loopbackPair(t *testing.T) (*bufferedConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newBufferedConn(raw)
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c, peer.(*net.TCPConn)
}

func TestBufferedConnWritesEverythingInOrder(t *testing.T) {
	c, peer := loopbackPair(t)
	var want bytes.Buffer
	for i := range 20000 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i%300)
		want.Write(p)
		if n, err := c.Write(p); n != len(p) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	got := make([]byte, want.Len())
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatalf("reading what was written: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("the peer read other bytes than were written, or in another order")
	}
}

func TestBufferedConnReadsWhatThePeerSent(t *testing.T) {
	c, peer := loopbackPair(t)
	sent := bytes.Repeat([]byte("0123456789"), 1000)
	go peer.Write(sent)
	got := make([]byte, 0, len(sent))
	one := make([]byte, 1) // paho reads a byte at a time
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < len(sent) {
		if _, err := c.Read(one); err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, one[0])
	}
	if !bytes.Equal(got, sent) {
		t.Fatal("read other bytes than the peer sent")
	}
}

func TestBufferedConnCloseWritesWhatIsQueued(t *testing.T) {
	c, peer := loopbackPair(t)
	want := []byte("\xe0\x00") // paho's DISCONNECT, written just before it closes
	c.Write(bytes.Repeat([]byte("x"), 100000))
	c.Write(want)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100002 || !bytes.HasSuffix(got, want) {
		t.Fatalf("the peer read %d bytes before the close, want 100002 ending in DISCONNECT", len(got))
	}
	if _, err := c.Write(want); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed (paho tells a closed conn by its text)", err)
	}
}

// A broker that stops reading must not hold Close (paho closes from its own goroutines) nor a
// Write beyond the queue's bound forever.
func TestBufferedConnCloseGivesUpOnAPeerThatStoppedReading(t *testing.T) {
	c, _ := loopbackPair(t)
	writeErr := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // the socket's buffers fill, then the queue
	start := time.Now()
	c.Close()
	if took := time.Since(start); took > closeFlushTimeout+2*time.Second {
		t.Fatalf("Close took %v with a peer that does not read", took)
	}
	select {
	case err := <-writeErr:
		if err == nil {
			t.Fatal("a blocked Write returned no error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Write waiting for room still waits after Close")
	}
}

func TestBufferedConnReportsTheSocketsError(t *testing.T) {
	c, peer := loopbackPair(t)
	peer.SetLinger(0) // close with a reset: the next writes fail
	peer.Close()
	deadline := time.Now().Add(10 * time.Second)
	var first error
	for first == nil && time.Now().Before(deadline) {
		_, first = c.Write([]byte("publish"))
		time.Sleep(time.Millisecond)
	}
	if first == nil {
		t.Fatal("writes to a reset connection never failed")
	}
	if _, err := c.Write([]byte("again")); !errors.Is(err, first) {
		t.Fatalf("write after a failure: %v, want the first error %v", err, first)
	}
}
