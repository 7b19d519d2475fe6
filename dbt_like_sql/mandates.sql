-- What an account must trade for, whatever the score: due cash requests, restricted
-- holdings (one row per held restricted security) and asset-class band breaches.
with due_cash_requests as (
    select
        cr.account_id,
        'cash_request' as mandate,
        cr.priority,
        cr.amount,
        cast(null as varchar) as security_id,
        cast(null as varchar) as asset_class,
        'request ' || cr.request_id || ' due ' || cast(cr.due_date as varchar) as detail
    from cash_requests as cr
    join run_context as ctx on cr.due_date <= ctx.as_of
    where cr.amount > 0
),

restricted_holdings as (
    select
        h.account_id,
        'restriction' as mandate,
        'normal' as priority,
        cast(null as double) as amount,
        h.security_id,
        cast(null as varchar) as asset_class,
        'holds restricted ' || h.security_id
        || ' (' || string_agg(rs.restriction_id, ', ' order by rs.restriction_id) || ')'
        as detail
    from holdings as h
    join restricted_securities as rs
        on h.account_id = rs.account_id and h.security_id = rs.security_id
    where h.quantity > 0
    group by h.account_id, h.security_id
),

band_breaches as (
    select
        d.account_id,
        'band_breach' as mandate,
        'normal' as priority,
        cast(null as double) as amount,
        cast(null as varchar) as security_id,
        d.asset_class,
        printf(
            '%s %.1f%% %s [%s, %s]',
            d.asset_class,
            100 * d.weight,
            d.breach,
            coalesce(printf('%g%%', round(100 * d.min_weight, 4)), '-'),
            coalesce(printf('%g%%', round(100 * d.max_weight, 4)), '-')
        ) as detail
    from asset_class_drift as d
    where d.breach is not null
),

all_mandates as (
    select * from due_cash_requests
    union all
    select * from restricted_holdings
    union all
    select * from band_breaches
)

select
    m.account_id,
    m.mandate,
    m.priority,
    m.amount,
    m.security_id,
    m.asset_class,
    m.detail
from all_mandates as m
order by
    m.account_id, m.mandate, m.security_id, m.asset_class, m.detail, m.priority, m.amount
