//! Evaluates an Azure Resource Manager template the way a deployment would, for the
//! parts syslane's `azuredeploy.json` uses: parameters with defaults and allowed
//! values, variables, resource conditions, nested deployments with inner-scoped
//! expressions, and outputs. The emulator reads its stream declarations from the
//! result, and the tests check the deployed rule (columns, flows, role) with the
//! parameters a user would give.
//!
//! Expression syntax and functions follow the template documentation:
//! <https://learn.microsoft.com/en-us/azure/azure-resource-manager/templates/template-expressions>
//! and the function references linked from it (logical `if` evaluates only the
//! branch taken; `reference` cannot be used for a resource's name or location,
//! which is why the template resolves the workspace's region in a nested
//! deployment). `reference()` itself is answered by the caller, since only a real
//! deployment knows the runtime state of resources.

mod expr;

use expr::{guid, parse, union, Node};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// Answers `reference()`: `(resource id, full, the resource as the template
/// deployed it, if it did)` → the resource's runtime state (`full`) or its
/// `properties`.
pub type ReferenceFn<'a> = &'a dyn Fn(&str, bool, Option<&Value>) -> Result<Value, String>;

/// Where the template is deployed, and what `reference()` returns.
pub struct Environment<'a> {
    pub subscription: String,
    pub resource_group: String,
    pub resource_group_location: String,
    pub reference: ReferenceFn<'a>,
}

/// The evaluated resources (those whose condition held, nested deployments'
/// resources included) and the outputs.
#[derive(Debug)]
pub struct Deployment {
    pub resources: Vec<Value>,
    pub outputs: Map<String, Value>,
}

impl Deployment {
    /// Every deployed resource of `kind`.
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.resources.iter().filter(move |r| r["type"] == kind)
    }
}

/// Deploys `template` with `parameters` (name → value).
pub fn deploy(
    template: &Value,
    parameters: &Map<String, Value>,
    env: &Environment<'_>,
) -> Result<Deployment, String> {
    let declared = template["parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for name in parameters.keys() {
        if !declared.contains_key(name) {
            return Err(format!(
                "parameter {name:?} is given but the template does not declare it"
            ));
        }
    }
    let scope = Scope {
        params: RefCell::new(Map::new()),
        variables: template["variables"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        var_cache: RefCell::new(HashMap::new()),
        template,
        env,
        deployed: RefCell::new(HashMap::new()),
        nested: RefCell::new(HashMap::new()),
    };
    for (name, decl) in &declared {
        let value = match parameters.get(name) {
            Some(v) => v.clone(),
            None => match decl.get("defaultValue") {
                Some(d) => scope.value(d)?,
                None => return Err(format!("parameter {name:?} has no value and no default")),
            },
        };
        check_parameter(name, decl, &value)?;
        scope.params.borrow_mut().insert(name.clone(), value);
    }
    let mut resources = Vec::new();
    for r in template["resources"].as_array().into_iter().flatten() {
        if let Some(c) = r.get("condition") {
            if !truthy(&scope.value(c)?) {
                let id = scope.resource_id_of(r)?;
                scope.deployed.borrow_mut().insert(id, None);
                continue;
            }
        }
        let inner = r["type"] == "Microsoft.Resources/deployments"
            && r["properties"]["expressionEvaluationOptions"]["scope"] == "inner";
        let mut evaluated = Map::new();
        for (k, v) in r.as_object().into_iter().flatten() {
            if k == "condition" {
                continue;
            }
            if inner && k == "properties" {
                let mut props = Map::new();
                for (pk, pv) in v.as_object().into_iter().flatten() {
                    // The inner template's expressions belong to its own scope.
                    let value = if pk == "template" {
                        pv.clone()
                    } else {
                        scope.value(pv)?
                    };
                    props.insert(pk.clone(), value);
                }
                evaluated.insert(k.clone(), Value::Object(props));
            } else {
                evaluated.insert(k.clone(), scope.value(v)?);
            }
        }
        let evaluated = Value::Object(evaluated);
        let id = scope.resource_id_of(&evaluated)?;
        scope
            .deployed
            .borrow_mut()
            .insert(id, Some(evaluated.clone()));
        resources.push(evaluated.clone());
        if inner {
            let mut inner_params = Map::new();
            for (k, v) in evaluated["properties"]["parameters"]
                .as_object()
                .into_iter()
                .flatten()
            {
                inner_params.insert(k.clone(), v["value"].clone());
            }
            let child = deploy(&evaluated["properties"]["template"], &inner_params, env)
                .map_err(|e| format!("nested deployment {}: {e}", evaluated["name"]))?;
            let name = evaluated["name"].as_str().unwrap_or_default().to_string();
            scope
                .nested
                .borrow_mut()
                .insert(name, child.outputs.clone());
            resources.extend(child.resources);
        }
    }
    let mut outputs = Map::new();
    for (name, o) in template["outputs"].as_object().into_iter().flatten() {
        outputs.insert(name.clone(), scope.value(&o["value"])?);
    }
    Ok(Deployment { resources, outputs })
}

fn check_parameter(name: &str, decl: &Value, value: &Value) -> Result<(), String> {
    let ok = match decl["type"]
        .as_str()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "string" | "securestring" => value.is_string(),
        "bool" => value.is_boolean(),
        "int" => value.is_i64(),
        "object" | "secureobject" => value.is_object(),
        "array" => value.is_array(),
        other => return Err(format!("parameter {name:?}: unknown type {other:?}")),
    };
    if !ok {
        return Err(format!(
            "parameter {name:?} must be of type {}, not {value}",
            decl["type"]
        ));
    }
    if let Some(allowed) = decl["allowedValues"].as_array() {
        if !allowed.contains(value) {
            return Err(format!(
                "parameter {name:?} is {value}, which is not one of {}",
                decl["allowedValues"]
            ));
        }
    }
    Ok(())
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

struct Scope<'t> {
    params: RefCell<Map<String, Value>>,
    variables: Map<String, Value>,
    var_cache: RefCell<HashMap<String, Value>>,
    template: &'t Value,
    env: &'t Environment<'t>,
    /// Resource id → its evaluated definition, or `None` when its condition was false.
    deployed: RefCell<HashMap<String, Option<Value>>>,
    /// Nested deployment name → its outputs.
    nested: RefCell<HashMap<String, Map<String, Value>>>,
}

impl<'t> Scope<'t> {
    /// Evaluates every expression string inside `v`.
    fn value(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => {
                if let Some(rest) = s.strip_prefix("[[") {
                    Value::String(format!("[{rest}"))
                } else if s.starts_with('[') && s.ends_with(']') {
                    let node = parse(&s[1..s.len() - 1])?;
                    self.eval(&node).map_err(|e| format!("{e} (in {s})"))?
                } else {
                    v.clone()
                }
            }
            Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.value(x)).collect::<Result<_, _>>()?)
            }
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, x) in o {
                    out.insert(k.clone(), self.value(x)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    fn variable(&self, name: &str) -> Result<Value, String> {
        if let Some(v) = self.var_cache.borrow().get(name) {
            return Ok(v.clone());
        }
        let raw = self
            .variables
            .get(name)
            .ok_or_else(|| format!("variables({name:?}) is not declared"))?;
        let v = self.value(raw)?;
        self.var_cache
            .borrow_mut()
            .insert(name.to_string(), v.clone());
        Ok(v)
    }

    fn rg_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.env.subscription, self.env.resource_group
        )
    }

    /// `resourceId(type, name1, name2…)` within this resource group.
    fn resource_id(&self, kind: &str, names: &[String]) -> Result<String, String> {
        let mut parts = kind.split('/');
        let namespace = parts.next().unwrap_or_default();
        let types: Vec<&str> = parts.collect();
        if types.len() != names.len() {
            return Err(format!(
                "resourceId({kind:?}) needs {} names, got {}",
                types.len(),
                names.len()
            ));
        }
        let mut id = format!("{}/providers/{namespace}", self.rg_id());
        for (t, n) in types.iter().zip(names) {
            id.push_str(&format!("/{t}/{n}"));
        }
        Ok(id)
    }

    /// The id of a resource definition (its `name` may be `parent/child`).
    fn resource_id_of(&self, r: &Value) -> Result<String, String> {
        let kind = self.value(&r["type"])?;
        let name = self.value(&r["name"])?;
        let names: Vec<String> = to_text(&name).split('/').map(String::from).collect();
        self.resource_id(&to_text(&kind), &names)
    }

    fn eval(&self, node: &Node) -> Result<Value, String> {
        match node {
            Node::Lit(v) => Ok(v.clone()),
            Node::Prop(base, name) => {
                let b = self.eval(base)?;
                b.get(name)
                    .cloned()
                    .ok_or_else(|| format!("property {name:?} does not exist on {b}"))
            }
            Node::Index(base, index) => {
                let b = self.eval(base)?;
                let i = self.eval(index)?;
                match (&b, &i) {
                    (Value::Array(a), Value::Number(n)) => n
                        .as_u64()
                        .and_then(|n| a.get(n as usize))
                        .cloned()
                        .ok_or_else(|| format!("index {n} is out of range")),
                    (Value::Object(o), Value::String(k)) => o
                        .get(k)
                        .cloned()
                        .ok_or_else(|| format!("property {k:?} does not exist")),
                    _ => Err(format!("cannot index {b} with {i}")),
                }
            }
            Node::Call(name, args) => self.call(name, args),
        }
    }

    fn call(&self, name: &str, args: &[Node]) -> Result<Value, String> {
        let lower = name.to_ascii_lowercase();
        // `if` evaluates only the branch it takes.
        if lower == "if" {
            let [c, a, b] = args else {
                return Err("if() takes three arguments".into());
            };
            return match self.eval(c)? {
                Value::Bool(true) => self.eval(a),
                Value::Bool(false) => self.eval(b),
                other => Err(format!("if() condition {other} is not a bool")),
            };
        }
        let v: Vec<Value> = args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<_, _>>()?;
        let text = |i: usize| v.get(i).map(to_text).unwrap_or_default();
        let arity = |n: usize| {
            if v.len() == n {
                Ok(())
            } else {
                Err(format!("{name}() takes {n} arguments, got {}", v.len()))
            }
        };
        match lower.as_str() {
            "parameters" => {
                arity(1)?;
                self.params
                    .borrow()
                    .get(&text(0))
                    .cloned()
                    .ok_or_else(|| format!("parameters({:?}) is not declared", text(0)))
            }
            "variables" => {
                arity(1)?;
                self.variable(&text(0))
            }
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            "not" => {
                arity(1)?;
                match v[0] {
                    Value::Bool(b) => Ok(Value::Bool(!b)),
                    ref other => Err(format!("not() of {other}")),
                }
            }
            "and" | "or" => {
                let bools: Vec<bool> = v
                    .iter()
                    .map(|x| x.as_bool().ok_or_else(|| format!("{name}() of {x}")))
                    .collect::<Result<_, _>>()?;
                Ok(Value::Bool(if lower == "and" {
                    bools.iter().all(|b| *b)
                } else {
                    bools.iter().any(|b| *b)
                }))
            }
            "equals" => {
                arity(2)?;
                Ok(Value::Bool(v[0] == v[1]))
            }
            "empty" => {
                arity(1)?;
                Ok(Value::Bool(match &v[0] {
                    Value::Null => true,
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    _ => false,
                }))
            }
            "length" => {
                arity(1)?;
                match &v[0] {
                    Value::String(s) => Ok(Value::from(s.chars().count())),
                    Value::Array(a) => Ok(Value::from(a.len())),
                    Value::Object(o) => Ok(Value::from(o.len())),
                    other => Err(format!("length() of {other}")),
                }
            }
            "tolower" => {
                arity(1)?;
                Ok(Value::String(text(0).to_lowercase()))
            }
            "string" => {
                arity(1)?;
                Ok(Value::String(to_text(&v[0])))
            }
            "createarray" => Ok(Value::Array(v)),
            "createobject" => {
                if v.len() % 2 != 0 {
                    return Err("createObject() takes key, value pairs".into());
                }
                let mut o = Map::new();
                for pair in v.chunks(2) {
                    o.insert(to_text(&pair[0]), pair[1].clone());
                }
                Ok(Value::Object(o))
            }
            "concat" => {
                if v.iter().all(Value::is_array) {
                    Ok(Value::Array(
                        v.into_iter()
                            .flat_map(|a| a.as_array().cloned().unwrap_or_default())
                            .collect(),
                    ))
                } else {
                    Ok(Value::String(v.iter().map(to_text).collect()))
                }
            }
            "union" => {
                let mut acc = v.first().cloned().unwrap_or(Value::Null);
                for next in &v[1..] {
                    acc = union(acc, next.clone())?;
                }
                Ok(acc)
            }
            "format" => {
                let mut out = text(0);
                for (i, a) in v.iter().enumerate().skip(1) {
                    out = out.replace(&format!("{{{}}}", i - 1), &to_text(a));
                }
                Ok(Value::String(out))
            }
            "resourcegroup" => {
                arity(0)?;
                Ok(serde_json::json!({
                    "id": self.rg_id(),
                    "name": self.env.resource_group,
                    "location": self.env.resource_group_location,
                }))
            }
            "subscription" => {
                arity(0)?;
                Ok(serde_json::json!({
                    "id": format!("/subscriptions/{}", self.env.subscription),
                    "subscriptionId": self.env.subscription,
                }))
            }
            "resourceid" => {
                let names: Vec<String> = v[1..].iter().map(to_text).collect();
                self.resource_id(&text(0), &names).map(Value::String)
            }
            "subscriptionresourceid" => {
                let kind = text(0);
                let mut parts = kind.split('/');
                let namespace = parts.next().unwrap_or_default();
                let mut id = format!(
                    "/subscriptions/{}/providers/{namespace}",
                    self.env.subscription
                );
                for (t, n) in parts.zip(v[1..].iter()) {
                    id.push_str(&format!("/{t}/{}", to_text(n)));
                }
                Ok(Value::String(id))
            }
            "guid" => Ok(Value::String(guid(
                &v.iter().map(to_text).collect::<Vec<_>>(),
            ))),
            "reference" => self.reference(&v),
            other => Err(format!(
                "function {other}() is not supported by this evaluator"
            )),
        }
    }

    fn reference(&self, v: &[Value]) -> Result<Value, String> {
        let target = v.first().map(to_text).unwrap_or_default();
        let full = v
            .get(2)
            .is_some_and(|f| to_text(f).eq_ignore_ascii_case("full"));
        // A nested deployment, by name or id.
        let deployment = target
            .rsplit_once("/Microsoft.Resources/deployments/")
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| target.clone());
        if let Some(outputs) = self.nested.borrow().get(&deployment) {
            let mut o = Map::new();
            for (k, val) in outputs {
                o.insert(k.clone(), serde_json::json!({ "value": val }));
            }
            return Ok(serde_json::json!({ "outputs": o }));
        }
        // A name alone means a resource of this template.
        let id = if target.contains('/') {
            target
        } else {
            let mut found = None;
            for r in self.template["resources"].as_array().into_iter().flatten() {
                if to_text(&self.value(&r["name"])?) == target {
                    found = Some(self.resource_id_of(r)?);
                }
            }
            found.ok_or_else(|| format!("reference({target:?}): no resource of that name"))?
        };
        match self.deployed.borrow().get(&id) {
            Some(None) => Err(format!(
                "reference() to {id}, which this deployment does not create (its condition is false)"
            )),
            Some(Some(r)) => (self.env.reference)(&id, full, Some(r)),
            None => (self.env.reference)(&id, full, None),
        }
    }
}

#[cfg(test)]
mod tests;
