//! Parser tests: accepted shapes, Salesforce error texts, and two properties (rendering then
//! parsing gives the same query; arbitrary input never panics).

use proptest::prelude::*;

use super::*;

fn ident(name: &str) -> Ident {
    Ident {
        name: name.to_owned(),
        pos: Pos::default(),
    }
}

#[test]
fn parses_every_clause_with_keywords_in_any_case() {
    let query = parse(
        "select Id, Name from Account where Industry = 'Tech' And AnnualRevenue >= 1000.5 \
         order by Name desc nulls last, Id limit 10 offset 2",
    );
    let expected = Query {
        select: Select::Fields(vec![ident("Id"), ident("Name")]),
        from: ident("Account"),
        conditions: vec![
            Condition {
                field: ident("Industry"),
                op: Op::Eq,
                value: Literal::Str("Tech".into()),
            },
            Condition {
                field: ident("AnnualRevenue"),
                op: Op::Ge,
                value: Literal::Number("1000.5".into()),
            },
        ],
        order_by: vec![
            OrderBy {
                field: ident("Name"),
                descending: true,
                nulls: Some(Nulls::Last),
            },
            OrderBy {
                field: ident("Id"),
                descending: false,
                nulls: None,
            },
        ],
        limit: Some(10),
        offset: Some(2),
    };
    assert_eq!(query, Ok(expected));
}

#[test]
fn parses_count_and_keyword_literals() {
    let query =
        parse("SELECT COUNT() FROM Contact WHERE Email = null AND HasOptedOutOfEmail = TRUE");
    let conditions = query
        .as_ref()
        .map(|q| (q.select.clone(), q.conditions.len()));
    assert_eq!(conditions, Ok((Select::Count, 2)));
}

#[test]
fn identifier_positions_point_at_the_name() {
    let from = parse("SELECT Id\nFROM   Account").map(|q| q.from.pos);
    assert_eq!(from, Ok(Pos { row: 2, column: 8 }));
}

#[test]
fn misspelled_from_is_malformed_with_salesforce_message() {
    let soql = "SELECT Id FORM Account";
    let err = parse(soql).err();
    let rendered = err.as_ref().map(|e| (e.error_code(), e.message(soql)));
    let message =
        "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'";
    assert_eq!(rendered, Some(("MALFORMED_QUERY", message.to_owned())));
}

#[test]
fn truncated_query_reports_unexpected_end() {
    let soql = "SELECT Id FROM";
    let err = parse(soql).err();
    let message = err.map(|e| e.message(soql));
    let expected =
        "\nSELECT Id FROM\n              ^\nERROR at Row:1:Column:15\nunexpected token: <EOF>";
    assert_eq!(message.as_deref(), Some(expected));
}

#[test]
fn limit_must_be_a_whole_number() {
    let err = parse("SELECT Id FROM Account LIMIT -1")
        .err()
        .map(|e| e.detail);
    assert_eq!(err.as_deref(), Some("unexpected token: '-1'"));
}

#[test]
fn empty_select_list_is_malformed() {
    let err = parse("SELECT FROM Account")
        .err()
        .map(|e| (e.pos, e.detail));
    assert_eq!(
        err,
        Some((
            Pos { row: 1, column: 8 },
            "unexpected token: 'FROM'".to_owned()
        ))
    );
}

#[test]
fn render_writes_canonical_soql() {
    let soql = "select id,name from account where name='O\\'Brien' order by name limit 5";
    let rendered = parse(soql).map(|q| q.to_string());
    let expected =
        "SELECT id, name FROM account WHERE name = 'O\\'Brien' ORDER BY name ASC LIMIT 5";
    assert_eq!(rendered.as_deref(), Ok(expected));
}

fn name() -> impl Strategy<Value = Ident> {
    "[A-Za-z_][A-Za-z0-9_]{0,8}"
        .prop_filter("not a keyword", |n| {
            let upper = n.to_ascii_uppercase();
            ![
                "SELECT", "FROM", "WHERE", "AND", "ORDER", "BY", "LIMIT", "OFFSET", "ASC", "DESC",
            ]
            .contains(&upper.as_str())
                && !["NULLS", "COUNT"].contains(&upper.as_str())
        })
        .prop_map(|n| ident(&n))
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::Str),
        (any::<i32>(), proptest::option::of(0u32..1000)).prop_map(|(whole, frac)| {
            Literal::Number(frac.map_or(whole.to_string(), |f| format!("{whole}.{f}")))
        }),
        Just(Literal::Date("2025-06-30".into())),
        Just(Literal::DateTime("2025-06-30T12:00:00Z".into())),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Lt),
        Just(Op::Le),
        Just(Op::Gt),
        Just(Op::Ge)
    ]
}

fn order() -> impl Strategy<Value = OrderBy> {
    let nulls = proptest::option::of(prop_oneof![Just(Nulls::First), Just(Nulls::Last)]);
    (name(), any::<bool>(), nulls).prop_map(|(field, descending, nulls)| OrderBy {
        field,
        descending,
        nulls,
    })
}

fn query() -> impl Strategy<Value = Query> {
    let select = prop_oneof![
        Just(Select::Count),
        proptest::collection::vec(name(), 1..4).prop_map(Select::Fields)
    ];
    let condition =
        (name(), op(), literal()).prop_map(|(field, op, value)| Condition { field, op, value });
    (
        select,
        name(),
        proptest::collection::vec(condition, 0..4),
        proptest::collection::vec(order(), 0..3),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(
            |(select, from, conditions, order_by, limit, offset)| Query {
                select,
                from,
                conditions,
                order_by,
                limit,
                offset,
            },
        )
}

proptest! {
    #[test]
    fn parsing_a_rendered_query_gives_the_same_query(q in query()) {
        prop_assert_eq!(parse(&q.to_string()), Ok(q));
    }

    #[test]
    fn parser_never_panics_and_errors_point_inside_the_input(input in any::<String>()) {
        if let Err(err) = parse(&input) {
            let rows = input.split('\n').count() as u32;
            prop_assert!(err.pos.row >= 1 && err.pos.row <= rows);
            let _ = err.message(&input);
        }
    }

    #[test]
    fn parser_never_panics_on_soql_shaped_noise(
        words in proptest::collection::vec(
            prop_oneof![
                Just("SELECT".to_owned()), Just("FROM".to_owned()), Just("WHERE".to_owned()),
                Just("Id".to_owned()), Just(",".to_owned()), Just("=".to_owned()),
                Just("'x'".to_owned()), Just("(".to_owned()), Just(")".to_owned()),
                Just("ORDER BY".to_owned()), Just("LIMIT".to_owned()), Just("1".to_owned()),
            ],
            0..12,
        )
    ) {
        let _ = parse(&words.join(" "));
    }
}
