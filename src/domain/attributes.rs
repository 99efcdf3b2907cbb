//! Every SCIM attribute of users and groups, once: its RFC 7643 characteristics (type,
//! multi-valued, sub-attributes, `caseExact`, mutability, `returned`, uniqueness) and where it is
//! stored and how it compares (a column, a child table, the JSON document). `/Schemas` is written
//! from this table, filters and sorting translate through it, PATCH value filters take their case
//! rules from it and projections their always-returned attributes, so they cannot disagree.

use crate::domain::filter::AttrPath;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Reference,
    Complex,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Reference => "reference",
            Type::Complex => "complex",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Always,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
        }
    }
}

/// How a stored column compares with a filter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// As stored (ids, `caseExact` strings).
    Exact,
    /// The column holds the lower-cased value: compare with the lower-cased operand.
    Key,
    /// Case-insensitively through `LOWER()`.
    Folded,
    Bool,
    Time,
}

/// The child table of a multi-valued attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    /// `member_emails`, one row per e-mail.
    Emails,
    /// `group_members`, seen from the member.
    Groups,
    /// `group_members`, seen from the group.
    Members,
    /// The member's one direct role, on its own row.
    Roles,
}

/// Where an attribute is kept, for filters and sorting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// In the resource's JSON document: compared as text, case-insensitively.
    Document,
    /// A column of the resource's table, or of its parent's child table for a sub-attribute.
    Column(&'static str, Compare),
    /// A multi-valued attribute in a child table.
    Child(Child),
    /// Made by the server from other data (references, display names): not filterable.
    Derived,
}

#[derive(Clone, Copy, Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Type,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub sub_attributes: &'static [Attribute],
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub stored: Stored,
}

/// A readWrite, single-valued, case-insensitive string kept in the JSON document.
const fn string(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind: Type::String,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        sub_attributes: &[],
        canonical_values: &[],
        reference_types: &[],
        stored: Stored::Document,
    }
}

const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    string(name, description).kind(Type::Boolean)
}

const fn reference(name: &'static str, description: &'static str) -> Attribute {
    string(name, description)
        .kind(Type::Reference)
        .case_exact()
        .stored(Stored::Derived)
}

const fn complex(
    name: &'static str,
    description: &'static str,
    sub_attributes: &'static [Attribute],
) -> Attribute {
    let mut a = string(name, description).kind(Type::Complex);
    a.sub_attributes = sub_attributes;
    a
}

impl Attribute {
    const fn kind(mut self, kind: Type) -> Self {
        self.kind = kind;
        self
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }
    const fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }
    const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    const fn references(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    const fn stored(mut self, stored: Stored) -> Self {
        self.stored = stored;
        self
    }
    const fn column(self, column: &'static str, compare: Compare) -> Self {
        self.stored(Stored::Column(column, compare))
    }

    /// A sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        find(self.sub_attributes, name)
    }
}

/// An attribute of `list` by name, case-insensitively.
pub fn find(list: &'static [Attribute], name: &str) -> Option<&'static Attribute> {
    list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const WORKSPACE_USER_URN: &str = "urn:scim-gateway:schemas:extension:workspace:2.0:User";

const ROLES: &[&str] = &["admin", "reviewer", "labeler"];

pub const USER: Schema = Schema {
    id: USER_URN,
    name: "User",
    description: "User Account",
    attributes: &[
        string(
            "userName",
            "The person's e-mail address; unique in the workspace, case-insensitively",
        )
        .required()
        .returned(Returned::Always)
        .unique()
        .column("user_name_key", Compare::Key),
        complex(
            "name",
            "The person's name; given and family names update the person's profile",
            &[
                string("formatted", "The full name"),
                string("givenName", "Given name").column("given_name", Compare::Folded),
                string("familyName", "Family name").column("family_name", Compare::Folded),
                string("middleName", "Middle name"),
                string("honorificPrefix", "Prefix"),
                string("honorificSuffix", "Suffix"),
            ],
        ),
        string("displayName", "Name to display").column("display_name", Compare::Folded),
        string("nickName", "Casual name"),
        string("title", "Job title"),
        string("userType", "Kind of user"),
        string("preferredLanguage", "Preferred language"),
        string("locale", "Locale"),
        string("timezone", "Time zone"),
        // Every member has an active state (true unless the IdP says otherwise).
        boolean(
            "active",
            "false deactivates the member (kept, no access); true restores it",
        )
        .required()
        .column("active", Compare::Bool),
        complex(
            "emails",
            "E-mail addresses",
            &[
                string("value", "The address").column("value_key", Compare::Key),
                string("type", "work, home or other").column("kind", Compare::Folded),
                boolean("primary", "The primary address").column("is_primary", Compare::Bool),
            ],
        )
        .multi()
        .stored(Stored::Child(Child::Emails)),
        complex(
            "phoneNumbers",
            "Phone numbers",
            &[
                string("value", "The number"),
                string("type", "work, mobile, ..."),
                boolean("primary", "The primary number"),
            ],
        )
        .multi(),
        complex(
            "roles",
            "The direct role the IdP gives: admin, reviewer or labeler",
            &[
                string("value", "admin, reviewer or labeler (any case)")
                    .canonical(ROLES)
                    .column("direct_role", Compare::Key),
                string("display", "Label"),
                string("type", "Kind"),
                boolean("primary", "Primary"),
            ],
        )
        .multi()
        .stored(Stored::Child(Child::Roles)),
        complex(
            "groups",
            "Groups the member belongs to",
            &[
                string("value", "Group id")
                    .case_exact()
                    .mutability(Mutability::ReadOnly)
                    .column("group_id", Compare::Exact),
                reference("$ref", "Group URI")
                    .mutability(Mutability::ReadOnly)
                    .references(&["Group"]),
                string("display", "Group name")
                    .mutability(Mutability::ReadOnly)
                    .stored(Stored::Derived),
            ],
        )
        .multi()
        .mutability(Mutability::ReadOnly)
        .stored(Stored::Child(Child::Groups)),
        string("externalId", "The IdP's identifier")
            .case_exact()
            .column("external_id", Compare::Exact),
    ],
};

pub const GROUP: Schema = Schema {
    id: GROUP_URN,
    name: "Group",
    description: "Group",
    attributes: &[
        string(
            "displayName",
            "Group name; unique in the workspace, case-insensitively",
        )
        .required()
        .returned(Returned::Always)
        .unique()
        .column("display_name", Compare::Folded),
        complex(
            "members",
            "Members of the group (users of this workspace)",
            &[
                string("value", "User id")
                    .case_exact()
                    .mutability(Mutability::Immutable)
                    .column("member_id", Compare::Exact),
                reference("$ref", "User URI")
                    .mutability(Mutability::Immutable)
                    .references(&["User"]),
                // A member's name is the user's, not the group's: on request only.
                string("display", "User name")
                    .mutability(Mutability::ReadOnly)
                    .returned(Returned::Request)
                    .stored(Stored::Derived),
                string("type", "User")
                    .mutability(Mutability::Immutable)
                    .canonical(&["User"])
                    .stored(Stored::Derived),
            ],
        )
        .multi()
        .stored(Stored::Child(Child::Members)),
        string("externalId", "The IdP's identifier")
            .case_exact()
            .column("external_id", Compare::Exact),
    ],
};

pub const ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_USER_URN,
    name: "EnterpriseUser",
    description: "Enterprise user",
    attributes: &[
        string("employeeNumber", "Employee number"),
        string("costCenter", "Cost center"),
        string("organization", "Organization"),
        string("division", "Division"),
        string("department", "Department"),
        complex(
            "manager",
            "Manager",
            &[
                string("value", "Manager id"),
                string("$ref", "Manager URI")
                    .kind(Type::Reference)
                    .references(&["User"]),
                string("displayName", "Manager name").mutability(Mutability::ReadOnly),
            ],
        ),
    ],
};

pub const WORKSPACE_USER: Schema = Schema {
    id: WORKSPACE_USER_URN,
    name: "WorkspaceUser",
    description: "What the workspace computes for a member",
    // Computed, so only returned when asked for (`attributes=`): what a client writes into this
    // extension comes back as written.
    attributes: &[string(
        "effectiveRole",
        "The role the member has in the workspace: the highest of its groups' mapped roles, its direct role, and labeler",
    )
    .mutability(Mutability::ReadOnly)
    .returned(Returned::Request)
    .stored(Stored::Derived)],
};

/// The common attributes (RFC 7643 §3.1) a filter or sort may name; not part of any schema.
const COMMON_USER: &[Attribute] = &[
    string("id", "").case_exact().column("id", Compare::Exact),
    complex(
        "meta",
        "",
        &[
            string("created", "").column("created_at", Compare::Time),
            string("lastModified", "").column("updated_at", Compare::Time),
        ],
    ),
];
const COMMON_GROUP: &[Attribute] = COMMON_USER;

/// The resource types and their schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
}

impl Resource {
    pub fn schema(self) -> &'static Schema {
        match self {
            Resource::User => &USER,
            Resource::Group => &GROUP,
        }
    }

    /// The extension schemas of this resource type.
    pub fn extensions(self) -> &'static [&'static Schema] {
        match self {
            Resource::User => &[&ENTERPRISE_USER, &WORKSPACE_USER],
            Resource::Group => &[],
        }
    }

    fn common(self) -> &'static [Attribute] {
        match self {
            Resource::User => COMMON_USER,
            Resource::Group => COMMON_GROUP,
        }
    }

    /// The attribute a path names (core or common; `None` for extension attributes and
    /// attributes this type doesn't have), and its sub-attribute when the path names one.
    pub fn attribute(
        self,
        path: &AttrPath,
    ) -> Option<(&'static Attribute, Option<&'static Attribute>)> {
        if path
            .urn
            .as_deref()
            .is_some_and(|urn| !urn.eq_ignore_ascii_case(self.schema().id))
        {
            return None;
        }
        let attribute = find(self.schema().attributes, &path.name)
            .or_else(|| find(self.common(), &path.name))?;
        match &path.sub {
            None => Some((attribute, None)),
            Some(sub) => Some((attribute, Some(attribute.sub(sub)?))),
        }
    }

    /// What a client may send but the server owns and ignores on write: the common attributes,
    /// `schemas`, `password` (never stored) and the type's readOnly attributes.
    pub fn ignored_on_write(self) -> impl Iterator<Item = &'static str> {
        ["id", "meta", "schemas", "password"].into_iter().chain(
            self.schema()
                .attributes
                .iter()
                .filter(|a| a.mutability == Mutability::ReadOnly)
                .map(|a| a.name),
        )
    }

    /// The attributes always returned whatever `attributes=` asks (besides id, schemas, meta).
    pub fn always_returned(self) -> impl Iterator<Item = &'static str> {
        self.schema()
            .attributes
            .iter()
            .filter(|a| a.returned == Returned::Always)
            .map(|a| a.name)
    }
}

/// True when `urn` is one of the schemas this server defines, but not of `resource` (a Group
/// attribute named on a user, say): such a path names nothing the resource can have.
pub fn belongs_elsewhere(urn: &str, resource: Resource) -> bool {
    let ours = |r: Resource| {
        r.schema().id.eq_ignore_ascii_case(urn)
            || r.extensions()
                .iter()
                .any(|s| s.id.eq_ignore_ascii_case(urn))
    };
    !ours(resource) && (ours(Resource::User) || ours(Resource::Group))
}

/// Most bytes kept per user or group beyond the attributes stored in columns (unknown and
/// extension attributes, as JSON): what one resource may add to the database.
pub const MAX_KEPT_BYTES: usize = 64 * 1024;
/// Most values of one multi-valued attribute of a user (`emails`, `phoneNumbers`, …).
pub const MAX_VALUES: usize = 50;

/// The kept attributes of a resource are within `MAX_KEPT_BYTES`, and none of their arrays (at
/// the top or in an extension object) holds more than `MAX_VALUES` values; `Err` names the limit.
pub fn check_kept(kept: &serde_json::Map<String, serde_json::Value>) -> crate::domain::Result<()> {
    use serde_json::Value;
    for (name, value) in kept {
        let arrays: Vec<(String, &Vec<Value>)> = match value {
            Value::Array(items) => vec![(name.clone(), items)],
            Value::Object(extension) => extension
                .iter()
                .filter_map(|(k, v)| v.as_array().map(|a| (format!("{name}:{k}"), a)))
                .collect(),
            _ => Vec::new(),
        };
        for (attr, items) in arrays {
            if items.len() > MAX_VALUES {
                return Err(crate::domain::Error::invalid(
                    attr.clone(),
                    format!(
                        "{attr} has {} values; at most {MAX_VALUES} are kept",
                        items.len()
                    ),
                ));
            }
        }
    }
    let size = serde_json::to_vec(kept)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_KEPT_BYTES {
        return Err(crate::domain::Error::invalid(
            "attributes",
            format!(
                "the attributes kept beyond the schema's columns are {size} bytes; at most {MAX_KEPT_BYTES} are kept per resource"
            ),
        ));
    }
    Ok(())
}
