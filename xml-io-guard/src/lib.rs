//! libxml2 and xmlsec1 open whatever a document names: xmlsec follows a `<ds:Reference URI>` to a
//! file or an `http://` URL through its I/O callbacks, libxml2 loads external entities and XSLT's
//! `document()` through its input callbacks, and XSLT's `exsl:document` writes files through its
//! output callbacks. All these lists are process-wide. [`close_all_io`] empties them and
//! registers, in each, one callback that claims every URI and opens nothing, so that no later
//! lookup falls back to the defaults (libxml2 registers them again lazily when its list is merely
//! empty). It also sets an external entity loader that loads nothing.
//!
//! [`allow_only_transforms`] leaves in xmlsec's process-wide list of transforms (what a
//! `<Transform>`, `<DigestMethod>`, `<SignatureMethod>` or `<CanonicalizationMethod>` may name)
//! only the algorithms given: no XPath, XSLT, XPointer or base64 transform can run, whatever a
//! document gets past the caller's own checks.
//!
//! [`record_xmlsec_errors`] replaces xmlsec's error output (stderr) with a per-thread record of
//! the last error, which the caller may read with [`last_xmlsec_error`].
//!
//! Order matters: `xmlSecInit` registers xmlsec's default callbacks and transforms, and samael
//! calls it lazily, at its first signature context. Call these after that (the gateway's
//! `saml::verify` does).

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr;

type MatchCallback = extern "C" fn(*const c_char) -> c_int;
type OpenCallback = extern "C" fn(*const c_char) -> *mut c_void;
type ReadCallback = extern "C" fn(*mut c_void, *mut c_char, c_int) -> c_int;
type CloseCallback = extern "C" fn(*mut c_void) -> c_int;
type WriteCallback = extern "C" fn(*mut c_void, *const c_char, c_int) -> c_int;
type ErrorCallback = extern "C" fn(
    *const c_char,
    c_int,
    *const c_char,
    *const c_char,
    *const c_char,
    c_int,
    *const c_char,
);
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
    fn xmlCleanupOutputCallbacks();
    fn xmlRegisterOutputCallbacks(
        matches: MatchCallback,
        open: OpenCallback,
        write: WriteCallback,
        close: CloseCallback,
    ) -> c_int;
}

#[link(name = "xmlsec1")]
unsafe extern "C" {
    fn xmlSecErrorsDefaultCallbackEnableOutput(enabled: c_int);
    fn xmlSecErrorsSetCallback(callback: ErrorCallback);
    fn xmlSecTransformIdsGet() -> *mut c_void;
    fn xmlSecTransformIdListFindByHref(
        list: *mut c_void,
        href: *const c_char,
        usage: c_uint,
    ) -> *const c_void;
    fn xmlSecPtrListEmpty(list: *mut c_void);
    fn xmlSecTransformIdsRegister(id: *const c_void) -> c_int;
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

extern "C" fn writes_nothing(_context: *mut c_void, _buffer: *const c_char, _len: c_int) -> c_int {
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
        xmlCleanupOutputCallbacks();
        if xmlRegisterOutputCallbacks(
            claims_every_uri,
            opens_nothing,
            writes_nothing,
            closes_nothing,
        ) < 0
        {
            return Err("libxml2 refused the closed output callback");
        }
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

/// `xmlSecTransformUsageAny`: a transform found whatever it is used for.
const ANY_USAGE: c_uint = 0xFFFF;

/// Leaves in xmlsec's list of transforms only those with these algorithm URIs. Fails (changing
/// nothing) when one of them is not there.
pub fn allow_only_transforms(hrefs: &[&str]) -> Result<(), String> {
    let hrefs: Vec<CString> = hrefs
        .iter()
        .map(|h| CString::new(*h).map_err(|_| format!("{h:?} is not a C string")))
        .collect::<Result<_, _>>()?;
    // SAFETY: xmlsec's transform list is a list of pointers to static transform descriptions;
    // looking one up reads it, emptying it drops the pointers (the descriptions are static), and
    // registering appends one. Done once, before any document is verified.
    unsafe {
        let list = xmlSecTransformIdsGet();
        if list.is_null() {
            return Err("xmlsec has no transform list (not initialised)".into());
        }
        let mut kept = Vec::with_capacity(hrefs.len());
        for href in &hrefs {
            let id = xmlSecTransformIdListFindByHref(list, href.as_ptr(), ANY_USAGE);
            if id.is_null() {
                return Err(format!("xmlsec has no transform {href:?}"));
            }
            kept.push(id);
        }
        xmlSecPtrListEmpty(list);
        for id in kept {
            if xmlSecTransformIdsRegister(id) < 0 {
                return Err("xmlsec refused to register a transform again".into());
            }
        }
    }
    Ok(())
}

thread_local! {
    static LAST_XMLSEC_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The longest error text kept (an error can quote a document's names).
const MAX_ERROR_CHARS: usize = 200;

fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: xmlsec passes NUL-terminated strings that live for the call.
    unsafe { CStr::from_ptr(p) }
        .to_string_lossy()
        .chars()
        .take(MAX_ERROR_CHARS)
        .collect()
}

extern "C" fn remember_error(
    _file: *const c_char,
    _line: c_int,
    func: *const c_char,
    _object: *const c_char,
    subject: *const c_char,
    _reason: c_int,
    message: *const c_char,
) {
    // The first error of a verification is its cause; later ones are its consequences.
    LAST_XMLSEC_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        if last.is_none() {
            *last = Some(format!(
                "{}: {} {}",
                text(func),
                text(subject),
                text(message)
            ));
        }
    });
}

/// Sends xmlsec's errors to a per-thread record instead of stderr (a forged signature would
/// otherwise put lines of the attacker's making into the service's log).
pub fn record_xmlsec_errors() {
    // SAFETY: replaces xmlsec's global error callback with `remember_error`, which only writes
    // a thread-local.
    unsafe {
        xmlSecErrorsDefaultCallbackEnableOutput(0);
        xmlSecErrorsSetCallback(remember_error);
    }
}

/// Forgets this thread's recorded xmlsec error (call before a verification).
pub fn clear_xmlsec_error() {
    LAST_XMLSEC_ERROR.with(|last| *last.borrow_mut() = None);
}

/// The first xmlsec error this thread met since [`clear_xmlsec_error`], if any.
pub fn last_xmlsec_error() -> Option<String> {
    LAST_XMLSEC_ERROR.with(|last| last.borrow().clone())
}
