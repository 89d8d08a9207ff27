from slrt.models import Event


def test_builders_make_a_referral(district, db_session):
    from tests.builders import make_referral

    referral = make_referral(district)
    assert referral.status == "sent"
    assert db_session.query(Event).count() == 3
