-- Lots of known, priced securities with unrealized gain and holding period as of the
-- date. Long-term means held MORE than one year: a lot acquired exactly one year before
-- the date is still short-term; it turns long-term days_to_long_term days after the date.
select
    l.account_id,
    l.lot_id,
    l.security_id,
    l.quantity,
    l.cost_basis,
    l.acquired_date,
    sp.close as price,
    l.quantity * sp.close as market_value,
    l.quantity * sp.close - l.cost_basis as unrealized_gain,
    date_diff('day', l.acquired_date, ctx.as_of) as holding_days,
    ctx.as_of > cast(l.acquired_date + interval 1 year as date) as is_long_term,
    greatest(
        date_diff('day', ctx.as_of, cast(l.acquired_date + interval 1 year as date)) + 1, 0
    ) as days_to_long_term
from lots as l
join securities as sec on l.security_id = sec.security_id
join security_prices as sp on l.security_id = sp.security_id
cross join run_context as ctx
order by
    l.account_id, l.lot_id, l.security_id, l.acquired_date, l.quantity, l.cost_basis
