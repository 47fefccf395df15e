-- `depends_on` became a map of name -> {condition, restart} (compose's long form); rows written before
-- kept the list of names. The list still reads, but stored JSON is today's wire shape (see
-- host/src/store/compat_tests.rs): rewrite each list as the map it means, every edge `started`.
UPDATE services
SET spec = json_set(
    spec,
    '$.depends_on',
    (SELECT json_group_object(value, json('{"condition":"started","restart":false}'))
     FROM json_each(spec, '$.depends_on'))
)
WHERE json_type(spec, '$.depends_on') = 'array';
