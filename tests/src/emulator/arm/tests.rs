use super::*;
use serde_json::json;

fn env_with(reference: ReferenceFn<'_>) -> Environment<'_> {
    Environment {
        subscription: "sub".into(),
        resource_group: "rg".into(),
        resource_group_location: "northeurope".into(),
        reference,
    }
}

#[test]
fn expressions_conditions_and_nested_deployments() {
    let t = json!({
        "parameters": {
            "on": {"type": "bool", "defaultValue": false},
            "where": {"type": "string", "defaultValue": ""}
        },
        "variables": {"base": ["a"], "more": "[concat(variables('base'), createArray('b'))]"},
        "resources": [
            {"type": "X.Y/things", "name": "t1", "condition": "[parameters('on')]", "properties": {}},
            {"type": "Microsoft.Resources/deployments", "name": "inner",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"},
               "parameters": {"loc": {"value": "[if(empty(parameters('where')), reference(resourceId('X.Y/ws', 'w'), '1', 'full').location, parameters('where'))]"}},
               "template": {"parameters": {"loc": {"type": "string"}},
                 "resources": [{"type": "X.Y/rules", "name": "r", "location": "[parameters('loc')]", "properties": {"k": "[[literal"}}],
                 "outputs": {"loc": {"type": "string", "value": "[parameters('loc')]"}}}}}
        ],
        "outputs": {
            "list": {"type": "array", "value": "[if(parameters('on'), variables('more'), variables('base'))]"},
            "loc": {"type": "string", "value": "[reference('inner').outputs.loc.value]"},
            "f": {"type": "string", "value": "[format('{0}-{1}', 'a', 2)]"}
        }
    });
    let reference = |id: &str, full: bool, _: Option<&Value>| {
        assert!(full && id.ends_with("/providers/X.Y/ws/w"), "{id}");
        Ok(json!({"location": "westeurope"}))
    };
    let env = env_with(&reference);
    let d = deploy(&t, &Map::new(), &env).unwrap();
    assert_eq!(d.of_type("X.Y/things").count(), 0);
    let rule = d.of_type("X.Y/rules").next().unwrap();
    assert_eq!(rule["location"], "westeurope");
    assert_eq!(rule["properties"]["k"], "[literal");
    assert_eq!(d.outputs["list"], json!(["a"]));
    assert_eq!(d.outputs["loc"], "westeurope");
    assert_eq!(d.outputs["f"], "a-2");

    let mut p = Map::new();
    p.insert("on".into(), json!(true));
    p.insert("where".into(), json!("eastus"));
    let d = deploy(&t, &p, &env).unwrap();
    assert_eq!(d.of_type("X.Y/things").count(), 1);
    assert_eq!(d.outputs["list"], json!(["a", "b"]));
    assert_eq!(d.outputs["loc"], "eastus");

    let mut p = Map::new();
    p.insert("nope".into(), json!(1));
    assert!(deploy(&t, &p, &env)
        .unwrap_err()
        .contains("does not declare"));
    let mut p = Map::new();
    p.insert("on".into(), json!("yes"));
    assert!(deploy(&t, &p, &env).unwrap_err().contains("type"));
}

#[test]
fn referencing_a_resource_that_is_not_deployed_fails() {
    let t = json!({
        "parameters": {"on": {"type": "bool", "defaultValue": false}},
        "resources": [{"type": "X.Y/things", "name": "t1", "condition": "[parameters('on')]"}],
        "outputs": {"o": {"type": "string", "value": "[reference(resourceId('X.Y/things', 't1')).x]"}}
    });
    let reference = |_: &str, _: bool, _: Option<&Value>| Ok(json!({"x": "y"}));
    let env = env_with(&reference);
    assert!(deploy(&t, &Map::new(), &env)
        .unwrap_err()
        .contains("condition is false"));
    let mut p = Map::new();
    p.insert("on".into(), json!(true));
    assert_eq!(deploy(&t, &p, &env).unwrap().outputs["o"], "y");
}
