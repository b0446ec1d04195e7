// Unix datagram sends for the syslog channel (/dev/log): socket(AF_UNIX, SOCK_DGRAM), sendto(),
// close(). Node's dgram module has no unix datagram sockets.
//
// Why our own addon: the npm packages for this do not survive worker threads, where the channel
// runs. unix-dgram (nan) is not context-aware and crashed the process (SIGSEGV) when a second worker
// loaded it; node-unix-socket (napi-rs) keeps a libuv poll handle open per socket and aborts the
// whole process ("uv_loop_close() while having open handles") when its worker is terminated.
// This addon makes plain non-blocking calls and owns no libuv handle: a terminated worker leaves only
// file descriptors behind, and the per-environment finalizer closes them. Node-API, so it loads in
// any number of threads and Node versions without rebuilding. A full receiver queue (EAGAIN) is
// returned to JavaScript, which waits and retries.

#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// The sockets one JavaScript environment (main thread or worker) opened and has not closed yet.
typedef struct {
  int* fds;
  size_t count;
  size_t capacity;
} OpenSockets;

static int remember(OpenSockets* open, int fd) {
  if (open->count == open->capacity) {
    size_t capacity = open->capacity ? open->capacity * 2 : 4;
    int* fds = realloc(open->fds, capacity * sizeof *fds);
    if (fds == NULL) return -1;
    open->fds = fds;
    open->capacity = capacity;
  }
  open->fds[open->count++] = fd;
  return 0;
}

// Forgets fd; returns 0 when it was ours, -1 otherwise (so close() never closes someone else's fd).
static int forget(OpenSockets* open, int fd) {
  for (size_t i = 0; i < open->count; i++) {
    if (open->fds[i] == fd) {
      open->fds[i] = open->fds[--open->count];
      return 0;
    }
  }
  return -1;
}

// Runs when the environment goes away, also when its worker thread is terminated.
static void close_all(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  OpenSockets* open = data;
  for (size_t i = 0; i < open->count; i++) close(open->fds[i]);
  free(open->fds);
  free(open);
}

// Throws unless a Node-API call already left an exception pending.
static napi_value fail(napi_env env, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, what);
  return NULL;
}

#define CHECK(call, what) \
  if ((call) != napi_ok) return fail(env, what)

static napi_value int32_value(napi_env env, int32_t value) {
  napi_value result;
  CHECK(napi_create_int32(env, value, &result), "cannot create a number");
  return result;
}

// open(minSendBuffer: number): number (a file descriptor, or -errno).
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t min_send_buffer = 0;
  OpenSockets* open;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "bad arguments");
  if (argc >= 1) CHECK(napi_get_value_int32(env, argv[0], &min_send_buffer), "open(minSendBuffer): a number expected");
  CHECK(napi_get_instance_data(env, (void**)&open), "no instance data");

  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) return int32_value(env, -errno);
  // fcntl rather than SOCK_NONBLOCK | SOCK_CLOEXEC, which macOS lacks.
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    int err = errno;
    close(fd);
    return int32_value(env, -err);
  }
  int have = 0;
  socklen_t length = sizeof have;
  if (min_send_buffer > 0 && getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &length) == 0 && have < min_send_buffer) {
    // Best effort: capped by net.core.wmem_max; a datagram that still does not fit fails with EMSGSIZE.
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &min_send_buffer, sizeof min_send_buffer);
  }
  if (remember(open, fd) != 0) {
    close(fd);
    return int32_value(env, -ENOMEM);
  }
  return int32_value(env, fd);
}

// sendTo(fd: number, data: Buffer, path: string): number (0 when sent, else errno).
static napi_value SendTo(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  void* data;
  size_t length;
  struct sockaddr_un address;
  size_t path_length;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "bad arguments");
  if (argc < 3) return fail(env, "sendTo(fd, data, path): three arguments expected");
  CHECK(napi_get_value_int32(env, argv[0], &fd), "sendTo: fd must be a number");
  CHECK(napi_get_buffer_info(env, argv[1], &data, &length), "sendTo: data must be a Buffer");
  CHECK(napi_get_value_string_utf8(env, argv[2], NULL, 0, &path_length), "sendTo: path must be a string");

  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (path_length >= sizeof address.sun_path) return int32_value(env, ENAMETOOLONG);
  CHECK(napi_get_value_string_utf8(env, argv[2], address.sun_path, sizeof address.sun_path, &path_length),
        "sendTo: path must be a string");

  ssize_t sent;
  do {
    sent = sendto(fd, data, length, 0, (struct sockaddr*)&address, sizeof address);
  } while (sent < 0 && errno == EINTR);
  return int32_value(env, sent < 0 ? errno : 0);
}

// close(fd: number): undefined. Only closes sockets this environment opened.
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  OpenSockets* open;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL), "bad arguments");
  if (argc < 1) return fail(env, "close(fd): one argument expected");
  CHECK(napi_get_value_int32(env, argv[0], &fd), "close: fd must be a number");
  CHECK(napi_get_instance_data(env, (void**)&open), "no instance data");
  if (forget(open, fd) == 0) close(fd);
  return NULL;
}

NAPI_MODULE_INIT() {
  OpenSockets* open = calloc(1, sizeof *open);
  if (open == NULL) return fail(env, "out of memory");
  CHECK(napi_set_instance_data(env, open, close_all, NULL), "cannot set instance data");
  napi_property_descriptor methods[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, SendTo, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods), "cannot define methods");
  return exports;
}
