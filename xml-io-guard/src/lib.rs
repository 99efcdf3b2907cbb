//! libxml2 and xmlsec1 open whatever a document names: xmlsec follows a `<ds:Reference URI>` to a
//! file or an `http://` URL through its I/O callbacks, and libxml2 loads external entities and
//! XSLT's `document()` through its own. Both lists are process-wide. [`close_all_io`] empties
//! them and registers, in each, one callback that claims every URI and opens nothing, so that no
//! later lookup falls back to the defaults (libxml2 registers them again lazily when its list is
//! merely empty). It also sets an external entity loader that loads nothing.
//!
//! Order matters: `xmlSecInit` registers xmlsec's default callbacks, and samael calls it lazily,
//! at its first signature context. Call this after that (the gateway's `saml::verify` does).

use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

type MatchCallback = extern "C" fn(*const c_char) -> c_int;
type OpenCallback = extern "C" fn(*const c_char) -> *mut c_void;
type ReadCallback = extern "C" fn(*mut c_void, *mut c_char, c_int) -> c_int;
type CloseCallback = extern "C" fn(*mut c_void) -> c_int;
type EntityLoader = extern "C" fn(*const c_char, *const c_char, *mut c_void) -> *mut c_void;

#[link(name = "xml2")]
unsafe extern "C" {
    fn xmlCleanupInputCallbacks();
    fn xmlRegisterInputCallbacks(
        matches: MatchCallback,
        open: OpenCallback,
        read: ReadCallback,
        close: CloseCallback,
    ) -> c_int;
    fn xmlSetExternalEntityLoader(loader: EntityLoader);
}

#[link(name = "xmlsec1")]
unsafe extern "C" {
    fn xmlSecErrorsDefaultCallbackEnableOutput(enabled: c_int);
    fn xmlSecIOCleanupCallbacks();
    fn xmlSecIORegisterCallbacks(
        matches: MatchCallback,
        open: OpenCallback,
        read: ReadCallback,
        close: CloseCallback,
    ) -> c_int;
}

extern "C" fn claims_every_uri(_uri: *const c_char) -> c_int {
    1
}

extern "C" fn opens_nothing(_uri: *const c_char) -> *mut c_void {
    ptr::null_mut()
}

extern "C" fn reads_nothing(_context: *mut c_void, _buffer: *mut c_char, _len: c_int) -> c_int {
    -1
}

extern "C" fn closes_nothing(_context: *mut c_void) -> c_int {
    0
}

extern "C" fn loads_no_entity(
    _url: *const c_char,
    _id: *const c_char,
    _context: *mut c_void,
) -> *mut c_void {
    ptr::null_mut()
}

/// Leaves libxml2 and xmlsec1 unable to open any file or URL, process-wide. Parsing from memory
/// is unaffected. Call it once, after xmlsec is initialised and before any untrusted document is
/// given to either library.
pub fn close_all_io() -> Result<(), &'static str> {
    // SAFETY: these functions only replace entries of the libraries' global callback tables
    // with the plain functions above, which touch no memory. They are not thread-safe against a
    // parse running at the same moment; the caller runs this once before any document is parsed
    // with untrusted input.
    unsafe {
        xmlCleanupInputCallbacks();
        if xmlRegisterInputCallbacks(
            claims_every_uri,
            opens_nothing,
            reads_nothing,
            closes_nothing,
        ) < 0
        {
            return Err("libxml2 refused the closed input callback");
        }
        xmlSetExternalEntityLoader(loads_no_entity);
        xmlSecIOCleanupCallbacks();
        if xmlSecIORegisterCallbacks(
            claims_every_uri,
            opens_nothing,
            reads_nothing,
            closes_nothing,
        ) < 0
        {
            return Err("xmlsec refused the closed input callback");
        }
    }
    Ok(())
}

/// Stops xmlsec writing each error it meets to stderr: a forged signature would otherwise put
/// lines of the attacker's making into the service's log, as fast as they can post. The caller
/// reports a failed verification itself.
pub fn silence_xmlsec_errors() {
    // SAFETY: sets one global flag of xmlsec's default error callback.
    unsafe { xmlSecErrorsDefaultCallbackEnableOutput(0) }
}
