//! What a posted document must pass before anything costly or dangerous reads it. The ACS answers
//! anyone on the internet, so its input is hostile until the signature says otherwise:
//!
//! - [`scan`] bounds the work of parsing, in one streaming pass over the text before any tree is
//!   built: nesting depth, element count, attributes and namespace declarations per element, and
//!   declarations in scope (a tree parser's cost grows steeply with the last). No DTD.
//! - [`check_signatures`] lets through only the signature form the SAML profile allows (SAML core
//!   §5.4): one `ds:Signature` per signed Response or Assertion, enveloped in it, with one
//!   `ds:Reference` to that element's own `#ID`, transforms limited to enveloped-signature and
//!   exclusive c14n, SHA-2 algorithms, and a `KeyInfo` of plain certificate data. Anything else
//!   (a reference to a file or a URL, XPath, XSLT, base64, XPointer, `RetrievalMethod`,
//!   `Object`, comments kept by c14n) never reaches xmlsec. The I/O callbacks xmlsec and libxml2
//!   could use are closed besides (`xml_io_guard`), so a gap here still opens nothing.

use std::collections::HashSet;

use quick_xml::events::{BytesStart, Event};

use super::checks::{Check, Refusal};

/// The bounds [`scan`] applies; SAML responses from Okta and Entra stay far inside them (depth
/// under 12, a few hundred elements for a large group claim).
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    pub max_depth: usize,
    pub max_elements: usize,
    pub max_attributes_per_element: usize,
    pub max_namespaces_per_element: usize,
    pub max_namespaces_in_scope: usize,
}

pub const LIMITS: DocumentLimits = DocumentLimits {
    max_depth: 48,
    max_elements: 20_000,
    max_attributes_per_element: 32,
    max_namespaces_per_element: 16,
    max_namespaces_in_scope: 32,
};

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N: &str = EXC_C14N_NS;
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// Signature methods accepted: RSA and ECDSA with SHA-2 (no SHA-1, no HMAC).
pub const SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];

pub const DIGEST_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// The elements of the XML-DSig namespace a SAML signature uses; any other (`RetrievalMethod`,
/// `Object`, `Manifest`, `XPath`, `PGPData`, `SPKIData`, `MgmtData`…) is refused.
const DSIG_ELEMENTS: &[&str] = &[
    "Signature",
    "SignedInfo",
    "CanonicalizationMethod",
    "SignatureMethod",
    "Reference",
    "Transforms",
    "Transform",
    "DigestMethod",
    "DigestValue",
    "SignatureValue",
    "KeyInfo",
    "KeyName",
    "KeyValue",
    "RSAKeyValue",
    "Modulus",
    "Exponent",
    "X509Data",
    "X509Certificate",
    "X509IssuerSerial",
    "X509IssuerName",
    "X509SerialNumber",
    "X509SubjectName",
    "X509SKI",
];

fn format(detail: impl Into<String>) -> Refusal {
    Refusal::new(Check::Format, detail)
}

fn signature(detail: impl Into<String>) -> Refusal {
    Refusal::new(Check::Signature, detail)
}

/// The document as every parser after this reads it: without a byte order mark or XML
/// declaration, so that libxml2 reads it as UTF-8 just as the checks here do. A declaration of any
/// other encoding is refused: libxml2 would honour it (`UTF-7` turns `+ADw-` into `<`) and see
/// markup where these checks saw text.
pub fn as_utf8_body(xml: &str) -> Result<&str, Refusal> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    if !xml.starts_with("<?xml") {
        return root_first(xml);
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    let declaration = match reader.read_event() {
        Ok(Event::Decl(declaration)) => declaration,
        _ => return Err(format("the XML declaration is malformed")),
    };
    if let Some(encoding) = declaration.encoding() {
        let encoding = encoding.map_err(|_| format("the XML declaration is malformed"))?;
        let name = String::from_utf8_lossy(&encoding).to_ascii_lowercase();
        if name != "utf-8" && name != "utf8" {
            return Err(format(format!(
                "the document declares the encoding {name:?}; SAML responses are UTF-8"
            )));
        }
    }
    let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
    root_first(
        xml.get(end..)
            .ok_or_else(|| format("the XML declaration is malformed"))?,
    )
}

/// The body must begin with its root element: no second declaration or byte order mark (libxml2
/// would honour an encoding declared after one these checks skipped), no DTD, comment or
/// processing instruction before it.
fn root_first(body: &str) -> Result<&str, Refusal> {
    let mut rest = body
        .trim_start_matches(|c: char| c.is_ascii_whitespace())
        .chars();
    match (rest.next(), rest.next()) {
        (Some('<'), Some(c)) if c.is_alphabetic() || c == '_' => Ok(body),
        _ => Err(format(
            "the document must begin with its root element (one XML declaration at most, nothing else before it)",
        )),
    }
}

/// The elements of a document as a parser saw them, in document order: namespace, name, and the
/// attributes a signature's meaning hangs on (`ID`, `URI`, `Algorithm`).
#[derive(Debug, PartialEq, Eq)]
struct Element {
    namespace: String,
    name: String,
    marks: Vec<(&'static str, String)>,
}

const MARKS: [&str; 3] = ["ID", "URI", "Algorithm"];

/// Refuses a document that libxml2 (which xmlsec verifies, through samael's very parse) reads as
/// another tree than the checks here did: whatever difference between two parsers one may find
/// (an encoding, a recovery from an error), a signature hidden from these checks is also hidden
/// from nothing. Same elements, same order, same signature attributes, or no verification.
pub fn same_tree_for_libxml2(xml: &str, checked: &roxmltree::Document<'_>) -> Result<(), Refusal> {
    let ours: Vec<Element> = checked
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| Element {
            namespace: n.tag_name().namespace().unwrap_or("").to_string(),
            name: n.tag_name().name().to_string(),
            marks: MARKS
                .iter()
                .filter_map(|m| n.attribute(*m).map(|v| (*m, v.to_string())))
                .collect(),
        })
        .collect();
    let parsed = libxml::parser::Parser::default()
        .parse_string(xml)
        .map_err(|_| format("the signature verifier can't read the document"))?;
    let mut theirs = Vec::with_capacity(ours.len());
    let mut pending: Vec<libxml::tree::Node> = parsed.get_root_element().into_iter().collect();
    while let Some(node) = pending.pop() {
        if theirs.len() > ours.len() {
            break;
        }
        let children = node.get_child_elements();
        theirs.push(Element {
            namespace: node
                .get_namespace()
                .map(|n| n.get_href())
                .unwrap_or_default(),
            name: node.get_name(),
            marks: MARKS
                .iter()
                .filter_map(|m| node.get_property(m).map(|v| (*m, v)))
                .collect(),
        });
        pending.extend(children.into_iter().rev());
    }
    if theirs != ours {
        return Err(format(
            "the document reads differently to the signature verifier than to these checks; it is refused unread",
        ));
    }
    Ok(())
}

/// One streaming pass that refuses a document beyond `limits` before a tree is built.
pub fn scan(xml: &str, limits: &DocumentLimits) -> Result<(), Refusal> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    // Declarations per open element, to know how many are in scope.
    let mut open: Vec<usize> = Vec::new();
    let mut in_scope = 0usize;
    let mut elements = 0usize;
    let mut element = |start: &BytesStart<'_>, depth: usize, in_scope: usize| {
        elements += 1;
        if elements > limits.max_elements {
            return Err(format(format!(
                "the document has more than {} elements",
                limits.max_elements
            )));
        }
        if depth > limits.max_depth {
            return Err(format(format!(
                "the document nests elements deeper than {} levels",
                limits.max_depth
            )));
        }
        let declared = count_attributes(start, limits)?;
        if in_scope + declared > limits.max_namespaces_in_scope {
            return Err(format(format!(
                "the document has more than {} namespace declarations in scope",
                limits.max_namespaces_in_scope
            )));
        }
        Ok(declared)
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format(format!("the SAMLResponse is not well-formed XML: {e}")))?;
        match event {
            Event::Start(start) => {
                let declared = element(&start, open.len() + 1, in_scope)?;
                open.push(declared);
                in_scope += declared;
            }
            // Closed at once: its declarations never stay in scope.
            Event::Empty(start) => {
                element(&start, open.len() + 1, in_scope)?;
            }
            Event::End(_) => in_scope -= open.pop().unwrap_or(0),
            Event::DocType(_) => {
                return Err(format("the document has a DTD; SAML responses never do"));
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// Counts an element's attributes and namespace declarations within the limits; the number of
/// declarations.
fn count_attributes(start: &BytesStart<'_>, limits: &DocumentLimits) -> Result<usize, Refusal> {
    let mut attributes = 0usize;
    let mut declarations = 0usize;
    for attribute in start.attributes() {
        let attribute = attribute
            .map_err(|e| format(format!("the SAMLResponse is not well-formed XML: {e}")))?;
        let key = attribute.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            declarations += 1;
            if declarations > limits.max_namespaces_per_element {
                return Err(format(format!(
                    "an element declares more than {} namespaces",
                    limits.max_namespaces_per_element
                )));
            }
        } else {
            attributes += 1;
            if attributes > limits.max_attributes_per_element {
                return Err(format(format!(
                    "an element has more than {} attributes",
                    limits.max_attributes_per_element
                )));
            }
        }
    }
    Ok(declarations)
}

fn is_dsig(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(DSIG_NS)
        && node.tag_name().name() == name
}

fn element_children<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'input>> {
    node.children().filter(|n| n.is_element())
}

/// Refuses every signature form but the SAML profile's (see the module comment).
pub fn check_signatures(doc: &roxmltree::Document<'_>) -> Result<(), Refusal> {
    let mut ids = HashSet::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        if let Some(id) = node.attribute("ID")
            && !ids.insert(id)
        {
            return Err(signature(format!(
                "two elements share the ID {id:?}; an ID names one element"
            )));
        }
        if node.tag_name().namespace() == Some(DSIG_NS)
            && !DSIG_ELEMENTS.contains(&node.tag_name().name())
        {
            return Err(signature(format!(
                "the signature uses ds:{}, which a SAML signature never needs",
                node.tag_name().name()
            )));
        }
    }
    for sig in doc.descendants().filter(|n| is_dsig(n, "Signature")) {
        check_signature(sig)?;
    }
    Ok(())
}

fn check_signature(sig: roxmltree::Node<'_, '_>) -> Result<(), Refusal> {
    let Some(signed) = sig.parent_element() else {
        return Err(signature("a signature must be inside the element it signs"));
    };
    let signable = (signed.tag_name().namespace() == Some(PROTOCOL_NS)
        && signed.tag_name().name() == "Response"
        && signed.parent_element().is_none())
        || (signed.tag_name().namespace() == Some(ASSERTION_NS)
            && signed.tag_name().name() == "Assertion");
    if !signable {
        return Err(signature(format!(
            "a signature sits in {}, not in the Response or an Assertion",
            signed.tag_name().name()
        )));
    }
    if element_children(signed)
        .filter(|n| is_dsig(n, "Signature"))
        .count()
        > 1
    {
        return Err(signature("an element carries more than one signature"));
    }
    let Some(id) = signed.attribute("ID") else {
        return Err(signature("the signed element has no ID to refer to"));
    };
    let children: Vec<_> = element_children(sig).collect();
    let names: Vec<&str> = children.iter().map(|n| n.tag_name().name()).collect();
    let shape_ok = matches!(
        names.as_slice(),
        ["SignedInfo", "SignatureValue"] | ["SignedInfo", "SignatureValue", "KeyInfo"]
    ) && children
        .iter()
        .all(|n| n.tag_name().namespace() == Some(DSIG_NS));
    if !shape_ok {
        return Err(signature(
            "a signature holds SignedInfo, SignatureValue and KeyInfo only",
        ));
    }
    check_signed_info(children[0], id)?;
    if let Some(key_info) = children.get(2) {
        check_key_info(*key_info)?;
    }
    Ok(())
}

fn check_signed_info(signed_info: roxmltree::Node<'_, '_>, id: &str) -> Result<(), Refusal> {
    let children: Vec<_> = element_children(signed_info).collect();
    let [c14n, method, reference] = children.as_slice() else {
        return Err(signature(
            "SignedInfo must hold one CanonicalizationMethod, one SignatureMethod and exactly one Reference",
        ));
    };
    if !is_dsig(c14n, "CanonicalizationMethod")
        || !is_dsig(method, "SignatureMethod")
        || !is_dsig(reference, "Reference")
    {
        return Err(signature(
            "SignedInfo must hold one CanonicalizationMethod, one SignatureMethod and exactly one Reference",
        ));
    }
    check_c14n(*c14n, "canonicalization")?;
    let algorithm = method.attribute("Algorithm").unwrap_or("");
    if !SIGNATURE_METHODS.contains(&algorithm) {
        return Err(signature(format!(
            "the signature algorithm {algorithm:?} is not accepted; sign with RSA or ECDSA and SHA-256 or stronger"
        )));
    }
    if element_children(*method).next().is_some() {
        return Err(signature("SignatureMethod takes no parameters"));
    }
    check_reference(*reference, id)
}

fn check_reference(reference: roxmltree::Node<'_, '_>, id: &str) -> Result<(), Refusal> {
    let uri = reference.attribute("URI").unwrap_or("");
    if uri.strip_prefix('#') != Some(id) {
        return Err(signature(format!(
            "the signature refers to {uri:?}; only a same-document reference to its own element (\"#{id}\") is accepted"
        )));
    }
    let children: Vec<_> = element_children(reference).collect();
    let (transforms, rest) = match children.as_slice() {
        [t, rest @ ..] if is_dsig(t, "Transforms") => (Some(*t), rest),
        rest => (None, rest),
    };
    let [digest, value] = rest else {
        return Err(signature(
            "a Reference holds Transforms, DigestMethod and DigestValue only",
        ));
    };
    if !is_dsig(digest, "DigestMethod") || !is_dsig(value, "DigestValue") {
        return Err(signature(
            "a Reference holds Transforms, DigestMethod and DigestValue only",
        ));
    }
    let algorithm = digest.attribute("Algorithm").unwrap_or("");
    if !DIGEST_METHODS.contains(&algorithm) {
        return Err(signature(format!(
            "the digest algorithm {algorithm:?} is not accepted; use SHA-256 or stronger"
        )));
    }
    if let Some(transforms) = transforms {
        let list: Vec<_> = element_children(transforms).collect();
        if list.len() > 2 {
            return Err(signature("a Reference has more than two transforms"));
        }
        for transform in list {
            if !is_dsig(&transform, "Transform") {
                return Err(signature("Transforms holds Transform elements only"));
            }
            match transform.attribute("Algorithm").unwrap_or("") {
                ENVELOPED if element_children(transform).next().is_none() => {}
                EXC_C14N => check_c14n(transform, "transform")?,
                other => {
                    return Err(signature(format!(
                        "the transform {other:?} is not accepted; only enveloped-signature and exclusive c14n are"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Exclusive c14n without comments, with at most its InclusiveNamespaces parameter.
fn check_c14n(node: roxmltree::Node<'_, '_>, role: &str) -> Result<(), Refusal> {
    let algorithm = node.attribute("Algorithm").unwrap_or("");
    if algorithm != EXC_C14N {
        return Err(signature(format!(
            "the {role} {algorithm:?} is not accepted; only exclusive c14n without comments is"
        )));
    }
    let mut children = element_children(node);
    let parameter_ok = match (children.next(), children.next()) {
        (None, _) => true,
        (Some(p), None) => {
            p.tag_name().namespace() == Some(EXC_C14N_NS)
                && p.tag_name().name() == "InclusiveNamespaces"
                && element_children(p).next().is_none()
        }
        _ => false,
    };
    if !parameter_ok {
        return Err(signature(format!(
            "the {role} takes only an InclusiveNamespaces parameter"
        )));
    }
    Ok(())
}

fn check_key_info(key_info: roxmltree::Node<'_, '_>) -> Result<(), Refusal> {
    for node in key_info.descendants().skip(1).filter(|n| n.is_element()) {
        if node.tag_name().namespace() != Some(DSIG_NS) {
            return Err(signature(format!(
                "KeyInfo holds {}, not certificate data",
                node.tag_name().name()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(xml: &str) -> String {
        scan(xml, &LIMITS).expect_err("refused").detail
    }

    fn nested(levels: usize, open: impl Fn(usize) -> String) -> String {
        let mut xml = String::new();
        for i in 0..levels {
            xml.push_str(&open(i));
        }
        for _ in 0..levels {
            xml.push_str("</e>");
        }
        xml
    }

    #[test]
    fn each_bound_refuses_just_past_its_limit() {
        let at = |n: usize| nested(n, |_| "<e>".into());
        assert!(scan(&at(LIMITS.max_depth), &LIMITS).is_ok());
        assert!(refused(&at(LIMITS.max_depth + 1)).contains("deeper than 48"));

        let flat = |n: usize| format!("<r>{}</r>", "<e/>".repeat(n - 1));
        assert!(scan(&flat(LIMITS.max_elements), &LIMITS).is_ok());
        assert!(refused(&flat(LIMITS.max_elements + 1)).contains("more than 20000 elements"));

        let attributes = |n: usize| {
            format!(
                "<e {}/>",
                (0..n)
                    .map(|i| format!("a{i}=\"\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        assert!(scan(&attributes(32), &LIMITS).is_ok());
        assert!(refused(&attributes(33)).contains("more than 32 attributes"));

        let declarations = |n: usize| {
            format!(
                "<e {}/>",
                (0..n)
                    .map(|i| format!("xmlns:p{i}=\"urn:{i}\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        assert!(scan(&declarations(16), &LIMITS).is_ok());
        assert!(refused(&declarations(17)).contains("declares more than 16 namespaces"));
        // A default namespace declaration counts as one.
        assert!(
            refused(&format!("<e xmlns=\"urn:d\" {}", &declarations(16)[3..]))
                .contains("declares more than 16")
        );
    }

    #[test]
    fn declarations_in_scope_add_up_along_the_path_and_leave_with_their_element() {
        // One more prefix per level: the shape whose parse cost grows with the cube of its depth.
        let per_level = |levels: usize| nested(levels, |i| format!("<e xmlns:p{i}=\"urn:{i}\">"));
        assert!(scan(&per_level(32), &LIMITS).is_ok());
        assert!(refused(&per_level(33)).contains("more than 32 namespace declarations in scope"));
        // Siblings don't add up: each one's declarations end with it.
        let siblings = format!(
            "<r>{}</r>",
            (0..100)
                .map(|i| format!(
                    "<e xmlns:a=\"urn:{i}\" xmlns:b=\"urn:b\"><x/></e><f xmlns:c=\"urn:c\"/>"
                ))
                .collect::<String>()
        );
        assert!(scan(&siblings, &LIMITS).is_ok());
    }

    #[test]
    fn only_utf8_reaches_the_parsers_and_without_a_declaration() {
        let body = "<r a=\"1\"/>";
        assert_eq!(as_utf8_body(body).unwrap(), body);
        assert_eq!(as_utf8_body(&format!("\u{feff}{body}")).unwrap(), body);
        for declared in [
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
        ] {
            assert_eq!(
                as_utf8_body(&format!("{declared}{body}")).unwrap(),
                body,
                "{declared}"
            );
        }
        for other in ["UTF-7", "utf-16", "ISO-8859-1", "IBM037"] {
            let refused = as_utf8_body(&format!(
                "<?xml version=\"1.0\" encoding=\"{other}\"?>{body}"
            ))
            .unwrap_err();
            assert!(
                refused.detail.contains("SAML responses are UTF-8"),
                "{other}: {refused}"
            );
        }
        assert!(as_utf8_body("<?xml version=\"1.0\" encoding=\"UTF-8\"<r/>").is_err());
        // What would hide a second, honoured declaration behind the first.
        for hidden in [
            "<?xml version=\"1.0\"?><?xml version=\"1.0\" encoding=\"UTF-7\"?><r/>",
            "\u{feff}\u{feff}<?xml version=\"1.0\" encoding=\"UTF-7\"?><r/>",
            "<?xml version=\"1.0\"?>\u{feff}<?xml version=\"1.0\" encoding=\"UTF-7\"?><r/>",
            "<!DOCTYPE r><r/>",
            "<!-- --><r/>",
            "<?pi?><r/>",
            "",
        ] {
            let refused = as_utf8_body(hidden).unwrap_err();
            assert!(
                refused.detail.contains("begin with its root element"),
                "{hidden:?}: {refused}"
            );
        }
        assert_eq!(as_utf8_body("  <r/>").unwrap(), "  <r/>");
    }

    /// A real difference between the two parsers: declared UTF-7, `+ADw-` is `<` to libxml2 and
    /// text to roxmltree. The comparison refuses it, whichever check let it through.
    #[test]
    fn a_document_libxml2_reads_as_another_tree_is_refused() {
        let differing = "<?xml version=\"1.0\" encoding=\"UTF-7\"?><r>+ADw-ds:Signature xmlns:ds=+ACI-http://www.w3.org/2000/09/xmldsig#+ACI-/+AD4-</r>";
        let checked = roxmltree::Document::parse(differing).unwrap();
        assert_eq!(checked.descendants().filter(|n| n.is_element()).count(), 1);
        let refused = same_tree_for_libxml2(differing, &checked).unwrap_err();
        assert!(refused.detail.contains("reads differently"), "{refused}");
        // The same tree to both: fine, attributes and namespaces included.
        let same = "<r xmlns=\"urn:a\" ID=\"r1\"><x:e xmlns:x=\"urn:b\" URI=\"#r1\" Algorithm=\"a\"/><f/></r>";
        let checked = roxmltree::Document::parse(same).unwrap();
        same_tree_for_libxml2(same, &checked).unwrap();
        // An element more, or an attribute changed, to one of them: refused.
        let more = roxmltree::Document::parse("<r xmlns=\"urn:a\" ID=\"r1\"><x:e xmlns:x=\"urn:b\" URI=\"#r1\" Algorithm=\"a\"/><f/><g/></r>").unwrap();
        assert!(same_tree_for_libxml2(same, &more).is_err());
        let other = roxmltree::Document::parse("<r xmlns=\"urn:a\" ID=\"r1\"><x:e xmlns:x=\"urn:b\" URI=\"#r2\" Algorithm=\"a\"/><f/></r>").unwrap();
        assert!(same_tree_for_libxml2(same, &other).is_err());
    }

    #[test]
    fn a_dtd_and_malformed_text_are_refused() {
        assert!(refused("<!DOCTYPE r [<!ENTITY x \"y\">]><r/>").contains("DTD"));
        assert!(refused("<a><b></a>").contains("not well-formed"));
        assert!(refused("<a b=\"1\" b=\"2\"/>").contains("not well-formed"));
    }

    /// The signature shapes Okta (prefixed, with an InclusiveNamespaces parameter) and Entra
    /// (default namespace) send.
    #[test]
    fn okta_and_entra_signature_shapes_pass() {
        let okta = r##"<saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" ID="r1"><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1"><saml2:Issuer>i</saml2:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>x</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>x</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>x</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature></saml2:Assertion></saml2p:Response>"##;
        let entra = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><Issuer>i</Issuer><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="#_a"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue>x</DigestValue></Reference></SignedInfo><SignatureValue>x</SignatureValue><KeyInfo><X509Data><X509Certificate>x</X509Certificate></X509Data></KeyInfo></Signature></Assertion></samlp:Response>"##;
        for (who, xml) in [("okta", okta), ("entra", entra)] {
            scan(xml, &LIMITS).unwrap_or_else(|e| panic!("{who}: {e}"));
            let doc = roxmltree::Document::parse(xml).unwrap();
            check_signatures(&doc).unwrap_or_else(|e| panic!("{who}: {e}"));
        }
        // The same with the reference pointing at the Response instead: refused.
        let elsewhere = okta.replace("URI=\"#a1\"", "URI=\"#r1\"");
        let doc = roxmltree::Document::parse(&elsewhere).unwrap();
        assert!(
            check_signatures(&doc)
                .unwrap_err()
                .detail
                .contains("\"#a1\"")
        );
        // An ID used twice: refused.
        let twice = okta.replace("ID=\"r1\"", "ID=\"a1\"");
        let doc = roxmltree::Document::parse(&twice).unwrap();
        assert!(
            check_signatures(&doc)
                .unwrap_err()
                .detail
                .contains("share the ID")
        );
    }
}
